//! What the fuzz targets share: the invariants every refusal of untrusted input must keep, and
//! a reader that splits one fuzz input into the several values a target needs.

use ferrite_core::CoreError;
use ferrite_proto::{Problem, ProblemType};

/// A refusal of client input is a problem document of a client-error type with a 4xx status
/// and a detail (RFC 8555 §6.7): never `serverInternal`, never a 5xx.
pub fn assert_client_problem(problem: &Problem) {
    assert_ne!(
        problem.kind,
        ProblemType::ServerInternal,
        "client input gave serverInternal: {problem:?}"
    );
    let status = problem.http_status();
    assert!(
        (400..500).contains(&status),
        "client input gave HTTP {status}: {problem:?}"
    );
    assert!(!problem.detail.is_empty(), "a problem without a detail");
    assert_eq!(
        ProblemType::from_urn(&problem.kind.urn()),
        Some(problem.kind),
        "the type does not round-trip through its URN"
    );
    let json = serde_json::to_vec(problem).expect("a problem serializes");
    let back: Problem = serde_json::from_slice(&json).expect("a problem parses back");
    assert_eq!(&back, problem, "the problem document does not round-trip");
    for sub in &problem.subproblems {
        assert_client_problem(sub);
    }
}

/// [`assert_client_problem`] on the problem an engine error becomes.
pub fn assert_client_error(error: impl Into<CoreError>) {
    assert_client_problem(&error.into().to_problem());
}

/// Reads one fuzz input as a sequence of values: single bytes, and byte strings each preceded
/// by a 2-byte big-endian length (cut short at the end of the input). The seed corpora are
/// written in the same framing.
pub struct Input<'a> {
    data: &'a [u8],
}

impl<'a> Input<'a> {
    /// A reader over `data`.
    pub fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    /// The next byte, 0 at the end.
    pub fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((b, rest)) => {
                self.data = rest;
                *b
            }
            None => 0,
        }
    }

    /// The next 2-byte big-endian number, 0 at the end.
    pub fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// The next length-prefixed byte string.
    pub fn bytes(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16()).min(self.data.len());
        let (head, rest) = self.data.split_at(len);
        self.data = rest;
        head
    }

    /// The next length-prefixed string, invalid UTF-8 replaced.
    pub fn string(&mut self) -> String {
        String::from_utf8_lossy(self.bytes()).into_owned()
    }

    /// Whatever is left.
    pub fn rest(&mut self) -> &'a [u8] {
        std::mem::take(&mut self.data)
    }

    /// Whether nothing is left.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
}

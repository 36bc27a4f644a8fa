//! CPU time and memory of a process from Linux `/proc` (proc(5)): `utime + stime` from
//! `/proc/PID/stat` (in clock ticks), `VmHWM` (peak resident set) and `VmRSS` from
//! `/proc/PID/status`, and the tick rate from the auxiliary vector (`AT_CLKTCK`).

use std::path::Path;
use std::time::Duration;

/// CPU time a process has used so far (user + system, its own threads, not its children).
pub fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    // proc(5): "pid (comm) state ppid ...": comm may contain spaces and parentheses, so
    // split after the LAST ')'. Fields 14 and 15 (1-based) are utime and stime; after the
    // ')' the state (field 3) is index 0, so they are indexes 11 and 12.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// A `kB` line of `/proc/PID/status` (e.g. `VmHWM`), in kilobytes.
pub fn parse_status_kb(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        if name != key {
            return None;
        }
        value.trim().trim_end_matches("kB").trim().parse().ok()
    })
}

/// `AT_CLKTCK` from an auxiliary vector (`/proc/self/auxv`: native-endian pairs of machine
/// words `(type, value)`, ending with type 0).
pub fn parse_auxv_clock_ticks(auxv: &[u8]) -> Option<u64> {
    const AT_CLKTCK: u64 = 17;
    let word = std::mem::size_of::<usize>();
    let read = |chunk: &[u8]| -> Option<u64> {
        match word {
            8 => Some(u64::from_ne_bytes(chunk.try_into().ok()?)),
            4 => Some(u64::from(u32::from_ne_bytes(chunk.try_into().ok()?))),
            _ => None,
        }
    };
    for pair in auxv.chunks_exact(2 * word) {
        let kind = read(&pair[..word])?;
        let value = read(&pair[word..])?;
        match kind {
            0 => return None,
            AT_CLKTCK if value > 0 => return Some(value),
            _ => {}
        }
    }
    None
}

/// Clock ticks per second for `/proc/PID/stat` times (100 on every common Linux if the
/// auxiliary vector cannot be read).
pub fn clock_ticks_per_second() -> u64 {
    std::fs::read("/proc/self/auxv")
        .ok()
        .and_then(|a| parse_auxv_clock_ticks(&a))
        .unwrap_or(100)
}

/// One reading of a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProcSample {
    /// User + system CPU ticks so far.
    pub cpu_ticks: u64,
    /// Peak resident set size so far (VmHWM), in kB.
    pub peak_rss_kb: u64,
    /// Current resident set size (VmRSS), in kB.
    pub rss_kb: u64,
}

/// Reads `/proc/{pid}/stat` and `/proc/{pid}/status`. `None` when the process is gone or the
/// files do not look like Linux's.
pub fn sample(pid: u32) -> Option<ProcSample> {
    let dir = Path::new("/proc").join(pid.to_string());
    let stat = std::fs::read_to_string(dir.join("stat")).ok()?;
    let status = std::fs::read_to_string(dir.join("status")).ok()?;
    Some(ProcSample {
        cpu_ticks: parse_cpu_ticks(&stat)?,
        peak_rss_kb: parse_status_kb(&status, "VmHWM")?,
        rss_kb: parse_status_kb(&status, "VmRSS")?,
    })
}

/// Converts ticks to a duration at `hz` ticks per second.
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    Duration::from_secs_f64(ticks as f64 / hz.max(1) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_with_spaces_and_parens_in_comm() {
        // A real line from a process whose comm is "tokio (rt) 1".
        let stat = "4242 (tokio (rt) 1) S 1 4242 4242 0 -1 4194560 1543 0 0 0 \
                    250 37 0 0 20 0 9 0 123456 1234567 4321 18446744073709551615";
        assert_eq!(parse_cpu_ticks(stat), Some(287));
        assert_eq!(parse_cpu_ticks("garbage"), None);
        assert_eq!(parse_cpu_ticks("1 (x) S 1 2"), None);
    }

    #[test]
    fn status_kb_lines() {
        let status = "Name:\tferrite\nVmPeak:\t  812345 kB\nVmHWM:\t   45678 kB\n\
                      VmRSS:\t   40000 kB\nThreads:\t5\n";
        assert_eq!(parse_status_kb(status, "VmHWM"), Some(45678));
        assert_eq!(parse_status_kb(status, "VmRSS"), Some(40000));
        assert_eq!(parse_status_kb(status, "VmSwap"), None);
        assert_eq!(parse_status_kb(status, "Vm"), None);
    }

    #[test]
    fn auxv_clock_ticks() {
        let mut auxv = Vec::new();
        for (k, v) in [(6usize, 4096usize), (17, 250), (0, 0)] {
            auxv.extend_from_slice(&k.to_ne_bytes());
            auxv.extend_from_slice(&v.to_ne_bytes());
        }
        assert_eq!(parse_auxv_clock_ticks(&auxv), Some(250));
        let word = std::mem::size_of::<usize>();
        // Cut after the first pair and terminate: no AT_CLKTCK left.
        let mut without = auxv[..2 * word].to_vec();
        without.extend_from_slice(&[0; 16][..2 * word]);
        assert_eq!(parse_auxv_clock_ticks(&without), None);
        assert_eq!(parse_auxv_clock_ticks(&[]), None);
    }

    #[test]
    fn this_process_can_be_sampled() {
        // Linux only: the test suite runs there. A busy loop makes the tick count move.
        let before = sample(std::process::id()).unwrap();
        let start = std::time::Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(150) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        let after = sample(std::process::id()).unwrap();
        assert!(after.cpu_ticks > before.cpu_ticks, "{before:?} {after:?}");
        assert!(after.peak_rss_kb >= after.rss_kb && after.rss_kb > 0);
        assert_eq!(clock_ticks_per_second(), 100);
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }
}

//! [`Netns`]: Linux network namespaces a test makes for itself, so that servers and clients
//! of one test see different networks (a remote validation perspective whose route to a
//! domain is hijacked, a perspective whose link is cut) while all of them run in the test's
//! own process.
//!
//! A namespace is made with `ip netns add` and joined per thread (`setns(2)`): a socket
//! belongs to the namespace of the thread that created it, so a Tokio runtime built by a
//! thread inside a namespace ([`Netns::runtime`]) creates every socket of the tasks it runs
//! there. Namespaces are linked by veth pairs ([`link`]) with addresses from a private range
//! that exists only inside them; nothing is added to the machine's own namespace, and every
//! namespace is deleted when its [`Netns`] is dropped (and, if a test process was killed
//! before that, by the next test that makes one).
//!
//! Needs root (`CAP_SYS_ADMIN` and `CAP_NET_ADMIN`) and iproute2: [`Netns::unavailable`]
//! says why not, for tests to print before they skip.

use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::MetadataExt;
use std::process::Command;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

/// The start of the name of every namespace made here, followed by the process id.
const PREFIX: &str = "ferrite-test-";

/// A network namespace of this test process, deleted when dropped.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Why this machine cannot run namespace tests (not root, no iproute2, namespaces
    /// refused), or `None` when it can.
    pub fn unavailable() -> Option<String> {
        match Netns::create("probe") {
            Ok(_) => None,
            Err(err) => Some(format!(
                "cannot create a network namespace ({err}); these tests need root and iproute2"
            )),
        }
    }

    /// Makes the namespace `ferrite-test-<pid>-<tag>` with its loopback interface up.
    pub fn create(tag: &str) -> io::Result<Netns> {
        remove_stale();
        let name = format!("{PREFIX}{}-{tag}", std::process::id());
        ip(&["netns", "add", &name])?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "dev", "lo", "up"])?;
        Ok(ns)
    }

    /// The namespace's name (as `ip netns` lists it).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <this namespace> args…`.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Moves the calling thread into this namespace: sockets it creates from now on are
    /// this namespace's, and threads it starts are in it too.
    pub fn enter(&self) -> io::Result<()> {
        let file = std::fs::File::open(self.path())?;
        move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))?;
        Ok(())
    }

    /// Runs `f` on a new thread inside this namespace and returns what it returned.
    pub fn run<T: Send>(&self, f: impl FnOnce() -> T + Send) -> io::Result<T> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    self.enter()?;
                    Ok(f())
                })
                .join()
                .map_err(|_| io::Error::other("the thread inside the namespace panicked"))?
        })
    }

    /// A multi-threaded Tokio runtime (`workers` threads) whose threads live in this
    /// namespace: a task spawned on it (from anywhere) binds and connects here. Checked: a
    /// task on it reports this namespace as its own.
    pub fn runtime(&self, workers: usize) -> io::Result<NamespaceRuntime> {
        let runtime = self.run(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_all()
                .build()
        })??;
        let own = std::fs::metadata(self.path())?.ino();
        let seen = std::thread::scope(|scope| {
            scope
                .spawn(|| runtime.block_on(runtime.spawn(async { current_namespace() })))
                .join()
        })
        .map_err(|_| io::Error::other("the namespace check panicked"))?
        .map_err(io::Error::other)??;
        if seen != own {
            return Err(io::Error::other(format!(
                "a task of the runtime made for {} runs in namespace {seen}, not {own}",
                self.name
            )));
        }
        Ok(NamespaceRuntime(Some(runtime)))
    }

    fn path(&self) -> String {
        format!("/run/netns/{}", self.name)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(err) = ip(&["netns", "del", &self.name]) {
            tracing::warn!(namespace = %self.name, %err, "could not delete a test namespace");
        }
    }
}

/// A Tokio runtime whose threads live in one namespace ([`Netns::runtime`]); stopped
/// without waiting when dropped, so it may be dropped in async code.
#[derive(Debug)]
pub struct NamespaceRuntime(Option<tokio::runtime::Runtime>);

impl NamespaceRuntime {
    /// Runs `future` on this runtime (in its namespace) and waits for what it returns.
    pub async fn run<F>(&self, future: F) -> F::Output
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle()
            .spawn(future)
            .await
            .expect("a task inside a namespace failed")
    }

    /// Starts `future` on this runtime (in its namespace).
    pub fn spawn<F>(&self, future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: std::future::Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle().spawn(future)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        self.0
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .expect("running until dropped")
    }
}

impl Drop for NamespaceRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Links `a` and `b` with a veth pair: interface `a_dev` in `a` with address `a_cidr`
/// (e.g. `10.203.0.1/24`) and `b_dev` in `b` with `b_cidr`, both up.
pub fn link(
    a: &Netns,
    a_dev: &str,
    a_cidr: &str,
    b: &Netns,
    b_dev: &str,
    b_cidr: &str,
) -> io::Result<()> {
    a.ip(&[
        "link", "add", "name", a_dev, "type", "veth", "peer", "name", b_dev, "netns", &b.name,
    ])?;
    for (ns, dev, cidr) in [(a, a_dev, a_cidr), (b, b_dev, b_cidr)] {
        ns.ip(&["addr", "add", cidr, "dev", dev])?;
        ns.ip(&["link", "set", "dev", dev, "up"])?;
    }
    Ok(())
}

/// The inode of the calling thread's network namespace.
fn current_namespace() -> io::Result<u64> {
    Ok(std::fs::metadata("/proc/thread-self/ns/net")?.ino())
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).output()?;
    if out.status.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )))
    }
}

/// Deletes the namespaces of test processes that no longer run (killed before they could
/// clean up).
fn remove_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let Some(name) = line.split_whitespace().next() else {
            continue;
        };
        let Some(pid) = name
            .strip_prefix(PREFIX)
            .and_then(|rest| rest.split('-').next())
        else {
            continue;
        };
        if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = ip(&["netns", "del", name]);
        }
    }
}

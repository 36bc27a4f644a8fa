//! [`PgCluster`]: a PostgreSQL cluster of a test's own (Debian's `postgresql`), for tests that
//! stop and start the server itself; the shared server of `FERRITE_TEST_DATABASE_URL` must not
//! be. initdb in a temporary directory, 127.0.0.1 on a free port, password login. PostgreSQL
//! refuses to run as root: as root the cluster belongs to the `postgres` user the package
//! creates, and every `pg_ctl` runs as that user (`runuser`), as `scripts/test.sh` does.

use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A running cluster, stopped (immediately) and removed when dropped.
pub struct PgCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    password: String,
    /// `postgres` when this process runs as root.
    user: Option<&'static str>,
}

impl PgCluster {
    /// initdb and start; panics, with the server's log, if it does not start.
    pub fn start() -> PgCluster {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL (Debian package postgresql) must be installed")
            .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
            .filter(|b| b.join("initdb").exists())
            .max_by_key(|b| {
                b.parent()
                    .and_then(|v| v.file_name())
                    .and_then(|v| v.to_str())
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
            })
            .expect("no /usr/lib/postgresql/*/bin/initdb");
        let dir = tempfile::tempdir().expect("tempdir");
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let user = root.then_some("postgres");
        let mut random = [0u8; 12];
        aws_lc_rs::rand::fill(&mut random).expect("random password");
        let password: String = random.iter().map(|b| format!("{b:02x}")).collect();
        std::fs::write(dir.path().join("password"), format!("{password}\n")).expect("password");
        if let Some(user) = user {
            let status = Command::new("chown")
                .args(["-R", user])
                .arg(dir.path())
                .status()
                .expect("chown");
            assert!(
                status.success(),
                "cannot give the cluster's directory to {user}"
            );
        }
        let mut cluster = PgCluster {
            dir,
            bin,
            port: 0,
            password,
            user,
        };
        let data = cluster.data();
        let password_file = cluster.dir.path().join("password");
        cluster.run(
            "initdb",
            &[
                "-D".as_ref(),
                data.as_os_str(),
                "-U".as_ref(),
                "ferrite".as_ref(),
                "--pwfile".as_ref(),
                password_file.as_os_str(),
                "--auth-local=scram-sha-256".as_ref(),
                "--auth-host=scram-sha-256".as_ref(),
                "--no-instructions".as_ref(),
            ],
        );
        // Another process may take the free port before the server binds it: try others.
        for _ in 0..5 {
            cluster.port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port();
            if cluster.pg_ctl(&["start"]) {
                return cluster;
            }
        }
        panic!("PostgreSQL did not start; its log:\n{}", cluster.log());
    }

    /// `postgres://ferrite:…@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!(
            "postgres://ferrite:{}@127.0.0.1:{}/postgres",
            self.password, self.port
        )
    }

    /// `pg_ctl stop -m fast`: sessions are ended, the server shuts down cleanly.
    pub fn stop(&self) {
        assert!(
            self.pg_ctl(&["-m", "fast", "stop"]),
            "pg_ctl stop failed; the log:\n{}",
            self.log()
        );
    }

    /// `pg_ctl start` on the same port.
    pub fn start_again(&self) {
        assert!(
            self.pg_ctl(&["start"]),
            "pg_ctl start failed; the log:\n{}",
            self.log()
        );
    }

    /// `pg_ctl restart -m fast`.
    pub fn restart(&self) {
        assert!(
            self.pg_ctl(&["-m", "fast", "restart"]),
            "pg_ctl restart failed; the log:\n{}",
            self.log()
        );
    }

    /// The server log's last lines.
    pub fn log(&self) -> String {
        let text = std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `pg_ctl ARGS` with the cluster's directory, log and options, waiting (at most 60 s);
    /// whether it succeeded.
    fn pg_ctl(&self, args: &[&str]) -> bool {
        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {} -c unix_socket_directories={} -c fsync=off",
            self.port,
            self.dir.path().display()
        );
        let data = self.data();
        let log = self.dir.path().join("server.log");
        let mut all: Vec<&std::ffi::OsStr> = vec![
            "-D".as_ref(),
            data.as_os_str(),
            "-l".as_ref(),
            log.as_os_str(),
            "-w".as_ref(),
            "-t".as_ref(),
            "60".as_ref(),
            "-o".as_ref(),
            options.as_ref(),
        ];
        all.extend(args.iter().map(|a| std::ffi::OsStr::new(*a)));
        self.command("pg_ctl", &all)
            .status()
            .is_ok_and(|s| s.success())
    }

    /// Runs `program` of the server's binaries; panics unless it succeeds.
    fn run(&self, program: &str, args: &[&std::ffi::OsStr]) {
        let out = self
            .command(program, args)
            .stderr(Stdio::piped())
            .output()
            .expect(program);
        assert!(
            out.status.success(),
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn command(&self, program: &str, args: &[&std::ffi::OsStr]) -> Command {
        let path = self.bin.join(program);
        let mut c = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        };
        c.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.data().join("postmaster.pid").exists() {
            let _ = self.pg_ctl(&["-m", "immediate", "stop"]);
        }
    }
}

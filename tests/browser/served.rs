//! A `lenet-gpu serve` process for the tests (tests/serve.rs and the browser tests).

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// A running `lenet-gpu serve`, and the origin it printed.
pub struct Served {
    child: Child,
    pub origin: String,
}

impl Served {
    pub fn start(args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
            .arg("serve")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.as_mut().unwrap()).read_line(&mut line).unwrap();
        let url = line.trim().strip_prefix("serving ").unwrap_or_else(|| panic!("first line: {line:?}"));
        assert!(url.starts_with("http://127.0.0.1:"), "it listens on loopback by default: {url}");
        Served { child, origin: url.trim_end_matches("/web/").to_string() }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

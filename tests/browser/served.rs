//! A `lenet-gpu serve` process for the tests (tests/serve.rs and the browser tests).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A running `lenet-gpu serve`, and the origin it printed.
pub struct Served {
    child: Child,
    pub origin: String,
    _dir: Option<tempfile::TempDir>,
}

impl Served {
    /// `lenet-gpu serve ARGS` in an empty directory (so no runs/lenet5/model.safetensors
    /// of this checkout is served by default).
    pub fn start(args: &[&str]) -> Served {
        let dir = tempfile::tempdir().unwrap();
        let mut served = Served::start_in(dir.path(), args);
        served._dir = Some(dir);
        served
    }

    /// `lenet-gpu serve ARGS` in the directory `cwd`.
    pub fn start_in(cwd: &Path, args: &[&str]) -> Served {
        let mut child = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
            .current_dir(cwd)
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
        Served { child, origin: url.trim_end_matches("/web/").to_string(), _dir: None }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! `lenet-gpu serve` as a user runs it: the page, its wasm, MNIST and the preloaded model
//! over HTTP on 127.0.0.1; bad requests get a 4xx and the server goes on; a port in use
//! and a bad model are clear errors.

#[path = "browser/served.rs"]
mod served;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::Command;

use served::Served;

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// (status, content type, body) of `method` on `path`, redirects not followed.
fn fetch(served: &Served, method: &str, path: &str) -> (u16, String, Vec<u8>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let url = format!("{}{path}", served.origin);
    let response = match method {
        "GET" => agent.get(&url).call(),
        "POST" => agent.post(&url).send(&b""[..]),
        _ => unreachable!(),
    };
    let mut response = response.unwrap();
    let content_type = response.headers().get("content-type").map(|v| v.to_str().unwrap().to_string());
    let body = response.body_mut().with_config().limit(64 << 20).read_to_vec().unwrap();
    (response.status().as_u16(), content_type.unwrap_or_default(), body)
}

fn a_model() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let layout = lenet_gpu::model::Arch::Lenet5.layout();
    let params: Vec<f32> = (0..layout.padded_len).map(|i| (i % 7) as f32 * 0.01).collect();
    lenet_gpu::checkpoint::save_model(&path, lenet_gpu::model::Arch::Lenet5, &params, Default::default()).unwrap();
    (dir, path)
}

#[test]
fn serves_the_page_its_wasm_mnist_and_the_preloaded_model() {
    let (_dir, model) = a_model();
    let served = Served::start(&["--port", "0", "--model", model.to_str().unwrap()]);
    let (status, _, _) = fetch(&served, "GET", "/");
    assert_eq!(status, 302, "/ sends the browser to the page");
    let (status, content_type, body) = fetch(&served, "GET", "/web/");
    assert_eq!((status, content_type.as_str()), (200, "text/html; charset=utf-8"));
    assert_eq!(body, std::fs::read(Path::new(REPO).join("web/index.html")).unwrap());
    let (status, content_type, wasm) = fetch(&served, "GET", "/web/pkg/lenet_gpu_web_bg.wasm");
    assert_eq!((status, content_type.as_str()), (200, "application/wasm"));
    assert!(wasm.starts_with(b"\0asm"), "a WebAssembly module");
    let (status, _, images) = fetch(&served, "GET", "/assets/mnist/t10k-images-idx3-ubyte.gz");
    assert_eq!(status, 200);
    assert_eq!(images, std::fs::read(Path::new(REPO).join("assets/mnist/t10k-images-idx3-ubyte.gz")).unwrap());
    let (status, _, bytes) = fetch(&served, "GET", "/model.safetensors");
    assert_eq!(status, 200);
    assert_eq!(bytes, std::fs::read(&model).unwrap(), "the model as given");
}

#[test]
fn without_model_it_serves_what_train_wrote_where_there_is_one() {
    let (dir, model) = a_model();
    std::fs::create_dir_all(dir.path().join("runs/lenet5")).unwrap();
    std::fs::rename(&model, dir.path().join("runs/lenet5/model.safetensors")).unwrap();
    let served = Served::start_in(dir.path(), &["--port", "0"]);
    let (status, _, bytes) = fetch(&served, "GET", "/model.safetensors");
    assert_eq!(status, 200, "runs/lenet5/model.safetensors is the default");
    assert_eq!(bytes, std::fs::read(dir.path().join("runs/lenet5/model.safetensors")).unwrap());
}

#[test]
fn bad_requests_get_4xx_and_the_server_goes_on() {
    let served = Served::start(&["--port", "0"]);
    assert_eq!(fetch(&served, "GET", "/model.safetensors").0, 404, "no --model: nothing there");
    assert_eq!(fetch(&served, "GET", "/web/../Cargo.toml").0, 404);
    assert_eq!(fetch(&served, "GET", "/src/main.rs").0, 404, "only the page's files are served");
    assert_eq!(fetch(&served, "POST", "/web/").0, 405);
    // Not HTTP at all.
    let mut raw = TcpStream::connect(served.origin.trim_start_matches("http://")).unwrap();
    raw.write_all(b"\x00\x01 GARBAGE\r\n\r\n").unwrap();
    let mut reply = String::new();
    let _ = raw.read_to_string(&mut reply);
    assert!(reply.starts_with("HTTP/1.1 4"), "a malformed request gets a 4xx: {reply:?}");
    assert_eq!(fetch(&served, "GET", "/web/").0, 200, "and the server still answers");
}

#[test]
fn a_port_in_use_and_a_bad_model_are_clear_errors() {
    let served = Served::start(&["--port", "0"]);
    let out = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
        .args(["serve", "--port", served.origin.rsplit(':').next().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("in use") && stderr.contains("--port"), "{stderr}");

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.safetensors");
    std::fs::write(&bad, b"not a checkpoint").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lenet-gpu"))
        .args(["serve", "--port", "0", "--model", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(stderr.contains("bad.safetensors") && stderr.contains("not a safetensors file"), "{stderr}");
}

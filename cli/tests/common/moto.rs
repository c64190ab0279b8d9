//! A moto S3 server for the tests (`moto[server]`, installed into the project venv by `scripts/setup`).
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto S3 server on a free loopback port, stopped when dropped.
pub struct Moto {
    child: Child,
    port: u16,
}

impl Moto {
    pub fn start() -> Moto {
        Moto::start_with(&[])
    }

    /// With moto's settings `env` (e.g. `INITIAL_NO_AUTH_ACTION_COUNT`, after which it checks credentials).
    pub fn start_with(env: &[(&str, &str)]) -> Moto {
        let server = moto_server();
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = Command::new(&server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .envs(env.iter().copied())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {} ({e}): run scripts/setup", server.display()));
        let moto = Moto { child, port };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on port {port} within 30 s");
            std::thread::sleep(Duration::from_millis(100));
        }
        moto
    }

    /// How many objects moto holds, from its own API (which needs no credentials).
    pub fn objects(&self) -> usize {
        let (status, text) = self.request("GET", "/moto-api/data.json");
        assert_eq!(status, 200, "{text}");
        let body = &text[text.find("\r\n\r\n").map(|i| i + 4).unwrap_or(0)..];
        let data: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
        data["s3"]["FakeKey"].as_array().map(Vec::len).unwrap_or_else(|| panic!("no s3.FakeKey in {body}"))
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The variables that point esmdb (Lance's S3 client) at this server.
    pub fn aws_env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".into()),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }

    /// One unsigned request (moto does not check signatures); the response's status and body.
    pub fn request(&self, method: &str, path: &str) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let head = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\n", self.port);
        s.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes()).unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let status = text.split_whitespace().nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        (status, text)
    }

    pub fn create_bucket(&self, bucket: &str) {
        let (status, text) = self.request("PUT", &format!("/{bucket}"));
        assert_eq!(status, 200, "creating bucket {bucket}: {text}");
    }

    /// Keys under `prefix` in `bucket`.
    pub fn keys(&self, bucket: &str, prefix: &str) -> Vec<String> {
        let (_, text) = self.request("GET", &format!("/{bucket}?list-type=2&prefix={prefix}"));
        text.split("<Key>").skip(1).filter_map(|k| k.split("</Key>").next()).map(str::to_owned).collect()
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `moto_server` of the project venv: beside `$ESMDB_PYTHON`, else in `<checkout>/.venv`. Required: without
/// it the test fails saying how to install it.
fn moto_server() -> PathBuf {
    let python = std::env::var_os("ESMDB_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python"));
    let server = python.with_file_name("moto_server");
    assert!(server.is_file(), "{} not found: run scripts/setup (it installs moto[server])", server.display());
    server
}

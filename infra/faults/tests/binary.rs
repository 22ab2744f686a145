//! The `kiln-faults` binary and its JSON control API under `/__faults/`.

mod common;

use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common::{Upstream, agent, eventually};
use serde_json::{Value, json};

/// The running binary; killed when dropped.
struct Running {
    child: Child,
    url: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_binary(upstream: &str) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kiln-faults"))
        .args(["--listen", "127.0.0.1:0", "--upstream", upstream])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start kiln-faults");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read the listening line");
    let url = line.trim().strip_prefix("kiln-faults listening on ").expect("listening line").to_owned();
    Running { child, url }
}

/// Sends a control request and returns the status and the JSON answer.
fn control(base: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let url = format!("{base}/__faults{path}");
    let agent = agent();
    let res = match (method, body) {
        ("GET", _) => agent.get(url).call(),
        ("DELETE", _) => agent.delete(url).call(),
        (_, Some(body)) => agent.post(url).send(body.to_string()),
        (_, None) => agent.post(url).send_empty(),
    };
    let mut res = res.expect("control request");
    let status = res.status().as_u16();
    let text = res.body_mut().read_to_string().expect("control body");
    (status, serde_json::from_str(&text).expect("control answers JSON"))
}

#[test]
fn binary_is_driven_through_the_control_api() {
    let upstream = Upstream::start();
    let proxy = start_binary(&upstream.url);
    let base = proxy.url.as_str();

    let rules = json!([
        {"method": "PUT", "path": "variants/", "times": 1, "action": {"type": "status", "code": 503}},
        {"method": "POST", "query": "uploadId=", "action": {"type": "stall"}}
    ]);
    assert_eq!(control(base, "POST", "/rules", Some(rules)), (200, json!({"added": 2})));
    assert_eq!(control(base, "GET", "/rules", None).1.as_array().map(Vec::len), Some(2));

    let put = || agent().put(format!("{base}/kiln/variants/a.webp")).send("x").unwrap().status().as_u16();
    assert_eq!((put(), put()), (503, 200), "times: 1");

    let url = format!("{base}/kiln/big?uploadId=u1");
    let client = std::thread::spawn(move || agent().post(url).send("<Complete/>").map(|r| r.status()));
    let stalled = || control(base, "GET", "/stalled", None).1 == json!({"stalled": 1});
    assert!(eventually(Duration::from_secs(10), stalled), "the POST stalls");
    assert_eq!(control(base, "POST", "/release", None), (200, json!({"released": 1})));
    assert_eq!(client.join().unwrap().unwrap(), 200);

    let seen = control(base, "GET", "/seen", None).1;
    let actions: Vec<&str> = seen.as_array().unwrap().iter().map(|s| s["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["status 503", "forward", "stall"], "control requests are not logged");
    assert_eq!(seen[2]["query"], "uploadId=u1");

    assert_eq!(control(base, "DELETE", "/rules", None), (200, json!({"removed": 1})));
    assert_eq!(control(base, "DELETE", "/seen", None), (200, json!({"removed": 3})));
    assert!(upstream.received().iter().all(|r| !r.target.starts_with("/__faults")), "never forwarded");
    assert_eq!(upstream.received().len(), 2);
}

#[test]
fn control_api_rejects_bad_rules_and_unknown_paths() {
    let upstream = Upstream::start();
    let proxy = start_binary(&upstream.url);
    let base = proxy.url.as_str();

    let (status, answer) = control(base, "POST", "/rules", Some(json!({"pth": "x", "action": {"type": "drop"}})));
    assert_eq!(status, 400);
    assert!(answer["error"].as_str().unwrap().contains("pth"), "{answer}");
    let bad_code = json!([{"action": {"type": "drop"}}, {"action": {"type": "status", "code": 99}}]);
    assert_eq!(control(base, "POST", "/rules", Some(bad_code)).0, 400);
    assert_eq!(control(base, "GET", "/rules", None).1, json!([]), "all or none");
    assert_eq!(control(base, "GET", "/nope", None).0, 404);
    assert!(upstream.received().is_empty());
}

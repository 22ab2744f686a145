//! The in-process `Proxy` against a recording upstream: plain forwarding,
//! every action, `times`, the match filters, the seen log and shutdown.

mod common;

use std::time::{Duration, Instant};

use common::{Upstream, agent, agent_with_timeout, closed_port_url, eventually};
use kiln_faults::{Action, Proxy, Rule};

const WAIT: Duration = Duration::from_secs(10);

#[test]
fn forwards_method_path_headers_and_body_unchanged() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    let mut res = agent()
        .put(format!("{}/kiln/a%20b.jpg?x-id=PutObject&partNumber=1", proxy.url()))
        .header("x-amz-meta-test", "kept")
        .send("image bytes")
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["x-upstream"], "yes");
    let body = res.body_mut().read_to_string().unwrap();
    assert_eq!(body, "upstream saw PUT /kiln/a%20b.jpg?x-id=PutObject&partNumber=1");

    let got = &upstream.received()[0];
    assert_eq!((got.method.as_str(), got.body.as_slice()), ("PUT", b"image bytes".as_slice()));
    // Host is what the client sent (the proxy's address), not the upstream's.
    assert_eq!(got.header("host"), Some(proxy.addr().to_string().as_str()));
    assert_eq!(got.header("x-amz-meta-test"), Some("kept"));

    let seen = proxy.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!((seen[0].seq, seen[0].action.as_str()), (1, "forward"));
    assert_eq!((seen[0].path.as_str(), seen[0].raw_path.as_str()), ("/kiln/a b.jpg", "/kiln/a%20b.jpg"));
    assert_eq!(seen[0].query, "x-id=PutObject&partNumber=1");
}

#[test]
fn forwards_a_20_mib_body_intact() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    let body: Vec<u8> = (0..20u32 << 20).map(|i| (i % 251) as u8).collect();
    let res = agent().put(format!("{}/kiln/original.jpg", proxy.url())).send(&body[..]).unwrap();
    assert_eq!(res.status(), 200);
    assert!(upstream.received()[0].body == body, "the body arrives byte for byte");
}

#[test]
fn head_keeps_the_upstream_content_length() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    let res = agent().head(format!("{}/kiln/x", proxy.url())).call().unwrap();
    assert_eq!(res.status(), 200);
    let expected = "upstream saw HEAD /kiln/x".len().to_string();
    assert_eq!(res.headers()["content-length"], expected.as_str());
}

#[test]
fn status_answers_without_forwarding() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::status(503)).path("/default"));
    proxy.add(Rule::new(Action::Status { code: 429, body: Some("<Error><Code>X</Code></Error>".into()) }));

    let mut res = agent().put(format!("{}/kiln/default", proxy.url())).send("x").unwrap();
    assert_eq!(res.status(), 503);
    assert_eq!(res.headers()["content-type"], "application/xml");
    let body = res.body_mut().read_to_string().unwrap();
    assert!(body.starts_with("<Error><Code>SlowDown</Code>"), "{body}");
    assert!(body.contains("injected by kiln-faults"), "{body}");

    let mut res = agent().get(format!("{}/kiln/custom", proxy.url())).call().unwrap();
    assert_eq!(res.status(), 429);
    assert_eq!(res.body_mut().read_to_string().unwrap(), "<Error><Code>X</Code></Error>");

    assert!(upstream.received().is_empty());
    let actions: Vec<_> = proxy.seen().into_iter().map(|s| s.action).collect();
    assert_eq!(actions, ["status 503", "status 429"]);
}

#[test]
fn delay_waits_then_forwards() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::Delay { ms: 300 }));
    let started = Instant::now();
    let res = agent().get(format!("{}/kiln/slow", proxy.url())).call().unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(upstream.received().len(), 1);
    assert_eq!(proxy.seen()[0].action, "delay 300ms");
}

#[test]
fn stall_holds_until_released_then_forwards() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::stall()).method("POST").query("uploadId="));
    let url = format!("{}/kiln/big?uploadId=u1", proxy.url());
    let client = std::thread::spawn(move || agent().post(url).send("<CompleteMultipartUpload/>").map(|r| r.status()));

    let stalled = proxy.wait_seen(|s| s.action == "stall", WAIT).expect("the POST is seen stalled");
    assert_eq!((stalled.method.as_str(), stalled.query.as_str()), ("POST", "uploadId=u1"));
    std::thread::sleep(Duration::from_millis(100));
    assert!(upstream.received().is_empty(), "a stalled request is not forwarded");
    assert_eq!(proxy.stalled(), 1);

    assert_eq!(proxy.release_all(), 1);
    assert_eq!(client.join().unwrap().unwrap(), 200);
    assert_eq!(upstream.received()[0].body, b"<CompleteMultipartUpload/>");
    assert_eq!(proxy.stalled(), 0);
}

#[test]
fn stall_with_max_ms_forwards_after_the_limit() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::Stall { max_ms: Some(200) }));
    let started = Instant::now();
    let res = agent().get(format!("{}/kiln/x", proxy.url())).call().unwrap();
    assert_eq!(res.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(proxy.seen()[0].action, "stall max 200ms");
}

#[test]
fn a_client_that_gives_up_on_a_stall_is_never_forwarded() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::stall()));
    let res = agent_with_timeout(Duration::from_millis(300)).get(format!("{}/kiln/x", proxy.url())).call();
    assert!(res.is_err(), "the client times out");
    assert!(eventually(WAIT, || proxy.stalled() == 0), "the proxy notices the client left");
    proxy.release_all();
    std::thread::sleep(Duration::from_millis(200));
    assert!(upstream.received().is_empty());
}

#[test]
fn drop_closes_the_connection_without_forwarding() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::Drop).method("PUT"));
    let res = agent().put(format!("{}/kiln/x", proxy.url())).send("body");
    assert!(res.is_err(), "no response: {res:?}");
    assert!(upstream.received().is_empty());
    assert_eq!(proxy.seen()[0].action, "drop");
    // Other requests still go through.
    assert_eq!(agent().get(format!("{}/kiln/x", proxy.url())).call().unwrap().status(), 200);
}

#[test]
fn lose_response_applies_upstream_but_breaks_the_client_connection() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::LoseResponse).method("POST").query("uploadId="));
    let res = agent().post(format!("{}/kiln/big?uploadId=u1", proxy.url())).send("<Complete/>");
    assert!(res.is_err(), "no response: {res:?}");
    let got = upstream.received();
    assert_eq!(got.len(), 1, "the store got the request");
    assert_eq!((got[0].target.as_str(), got[0].body.as_slice()), ("/kiln/big?uploadId=u1", b"<Complete/>".as_slice()));
    assert_eq!(proxy.seen()[0].action, "lose_response");
}

#[test]
fn times_limits_a_rule_then_it_is_gone() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::status(500)).times(2));
    let statuses: Vec<u16> =
        (0..3).map(|_| agent().get(format!("{}/k", proxy.url())).call().unwrap().status().as_u16()).collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert!(proxy.rules().is_empty());
    assert_eq!(upstream.received().len(), 1);
}

#[test]
fn filters_all_must_match_and_the_first_rule_wins() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::status(500)).method("put").path("variants/a b"));
    proxy.add(Rule::new(Action::status(501)).path("%2B"));
    proxy.add(Rule::new(Action::status(502)).query("partNumber="));
    proxy.add(Rule::new(Action::status(503)).header("X-Amz-Copy-Source"));
    proxy.add(Rule::new(Action::status(504)).method("PUT"));
    let put = |path: &str| agent().put(format!("{}{path}", proxy.url()));

    // Decoded path, method case-insensitively.
    assert_eq!(put("/kiln/variants/a%20b.webp").send("x").unwrap().status(), 500);
    // Raw path (decoded it is "+").
    assert_eq!(put("/kiln/c%2Bd").send("x").unwrap().status(), 501);
    assert_eq!(put("/kiln/big?partNumber=2&uploadId=u").send("x").unwrap().status(), 502);
    let copy = put("/kiln/copy").header("x-amz-copy-source", "/kiln/src").send("");
    assert_eq!(copy.unwrap().status(), 503);
    assert_eq!(put("/kiln/other").send("x").unwrap().status(), 504);
    // Nothing matches a GET of a plain object.
    assert_eq!(agent().get(format!("{}/kiln/variants/x", proxy.url())).call().unwrap().status(), 200);

    proxy.clear();
    assert_eq!(put("/kiln/variants/a%20b.webp").send("x").unwrap().status(), 200);
}

#[test]
fn wait_seen_finds_later_requests_and_times_out() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    assert_eq!(proxy.wait_seen(|_| true, Duration::from_millis(50)), None);

    let url = proxy.url();
    let client = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        for path in ["/a", "/b"] {
            agent().get(format!("{url}{path}")).call().unwrap();
        }
    });
    let b = proxy.wait_seen(|s| s.path == "/b", WAIT).expect("/b is seen");
    client.join().unwrap();
    assert_eq!(b.seq, 2);
    assert!(proxy.seen()[0].at_ms <= b.at_ms);

    proxy.clear_seen();
    assert!(proxy.seen().is_empty());
    agent().get(format!("{}/c", proxy.url())).call().unwrap();
    assert_eq!(proxy.seen()[0].seq, 3, "sequence numbers are never reused");
}

#[test]
fn unreachable_upstream_is_a_502() {
    let proxy = Proxy::start(&closed_port_url()).unwrap();
    let mut res = agent().get(format!("{}/kiln/x", proxy.url())).call().unwrap();
    assert_eq!(res.status(), 502);
    assert!(res.body_mut().read_to_string().unwrap().contains("<Code>BadGateway</Code>"));
}

#[test]
fn dropping_the_proxy_closes_stalled_requests_and_the_port() {
    let upstream = Upstream::start();
    let proxy = Proxy::start(&upstream.url).unwrap();
    proxy.add(Rule::new(Action::stall()));
    let url = format!("{}/kiln/x", proxy.url());
    let client = std::thread::spawn(move || agent().get(url).call().map(|r| r.status()));
    proxy.wait_seen(|s| s.action == "stall", WAIT).expect("stalled");

    let addr = proxy.addr();
    drop(proxy);
    assert!(client.join().unwrap().is_err(), "the stalled client sees a closed connection");
    assert!(upstream.received().is_empty());

    // The port can be taken again, e.g. to bring the proxy back.
    let again = Proxy::start_on(addr, &upstream.url).unwrap();
    assert_eq!(agent().get(format!("{}/kiln/x", again.url())).call().unwrap().status(), 200);
}

#[test]
fn bad_upstream_urls_are_refused() {
    assert!(Proxy::start("https://127.0.0.1:9000").is_err());
    assert!(Proxy::start("127.0.0.1:9000").is_err());
}

//! Two `spin up` instances of kiln sharing state on one machine, as a
//! scaled-out deployment would: a real `redis-server` (Debian) as Spin's
//! key-value store (through `runtime-config.toml`), one kiln-store, and a
//! real haproxy (Debian) balancing requests round-robin between the two.

use crate::process::{free_port, wait_for_http, Guard};
use crate::{repo_root, Stack};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// Instance A is [`Cluster::stack`] (it owns the store); B is a second
/// `spin up` of the same app; `lb` is haproxy in front of both.
pub struct Cluster {
    pub stack: Stack,
    pub a: String,
    pub b: String,
    pub lb: String,
    b_spin: Option<Guard>,
    _haproxy: Guard,
    _redis: Guard,
}

impl Cluster {
    pub fn start(name: &str) -> Cluster {
        let dir = std::env::temp_dir().join(format!("kiln-cluster-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let (redis, redis_port) = start_redis(&dir);
        let runtime_config = dir.join("runtime-config.toml");
        // The repo's runtime config (connection pooling off) plus Redis.
        let base = std::fs::read_to_string(repo_root().join("runtime-config.toml")).unwrap();
        let redis_kv = format!("\n[key_value_store.default]\ntype = \"redis\"\nurl = \"redis://127.0.0.1:{redis_port}\"\n");
        std::fs::write(&runtime_config, base + &redis_kv).unwrap();

        let stack = Stack::start_with_runtime_config(name, runtime_config);
        let b_port = free_port();
        let b_spin = stack.spawn_spin(b_port, "spin-b");
        let b = format!("http://127.0.0.1:{b_port}");
        let (haproxy, lb) = start_haproxy(&dir, &[&stack.api, &b]);
        Cluster { a: stack.api.clone(), b, lb, stack, b_spin: Some(b_spin), _haproxy: haproxy, _redis: redis }
    }

    /// Kills instance B (its whole process group), as a crashed node.
    pub fn kill_b(&mut self) {
        self.b_spin = None;
    }
}

fn start_redis(dir: &Path) -> (Guard, u16) {
    let port = free_port();
    let mut cmd = Command::new("redis-server");
    cmd.args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]).arg("--dir").arg(dir);
    let log = dir.join("redis.log");
    cmd.stdout(std::fs::File::create(&log).unwrap()).stderr(std::fs::File::create(dir.join("redis.err")).unwrap());
    let guard = Guard::spawn(cmd, log);
    wait_for_port(port, &guard);
    (guard, port)
}

/// haproxy in HTTP mode, round-robin per request (`http-server-close`:
/// each request picks the next server, even on a kept-alive client
/// connection).
fn start_haproxy(dir: &Path, servers: &[&str]) -> (Guard, String) {
    let port = free_port();
    let mut config = format!(
        "global\n  maxconn 256\n\ndefaults\n  mode http\n  option http-server-close\n  timeout connect 5s\n  timeout client 120s\n  timeout server 120s\n\n\
         frontend kiln\n  bind 127.0.0.1:{port}\n  default_backend spins\n\nbackend spins\n  balance roundrobin\n"
    );
    for (n, server) in servers.iter().enumerate() {
        config.push_str(&format!("  server s{n} {}\n", server.trim_start_matches("http://")));
    }
    let path = dir.join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let log = dir.join("haproxy.log");
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&path);
    cmd.stdout(std::fs::File::create(&log).unwrap()).stderr(std::fs::File::create(dir.join("haproxy.err")).unwrap());
    let guard = Guard::spawn(cmd, log);
    let url = format!("http://127.0.0.1:{port}");
    wait_for_http(&format!("{url}/"), Duration::from_secs(30), &guard);
    (guard, url)
}

fn wait_for_port(port: u16, guard: &Guard) {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("port {port} did not open:\n{}", guard.log_tail());
}

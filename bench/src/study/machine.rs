//! What the study ran on: CPU, cores, memory, OS, kernel, Spin, rustc and
//! the reference tools' versions, read from the machine itself.

use super::proc::version;
use super::record::Machine;

fn field(path: &str, key: &str) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    text.lines().find_map(|l| l.strip_prefix(key)).map(|v| v.trim_start_matches([' ', '\t', ':', '=']).trim().trim_matches('"').to_string())
}

pub fn describe(tools: Vec<(String, String)>) -> Machine {
    let root = kiln_e2e::repo_root();
    let spin = kiln_e2e::spin_binary(&root);
    let memory_kib: f64 = field("/proc/meminfo", "MemTotal").and_then(|v| v.trim_end_matches("kB").trim().parse().ok()).unwrap_or(0.0);
    Machine {
        cpu: field("/proc/cpuinfo", "model name").unwrap_or_default(),
        cores: std::thread::available_parallelism().map(|n| n.get() as u32).unwrap_or(1),
        memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        os: field("/etc/os-release", "PRETTY_NAME").unwrap_or_default(),
        kernel: version("uname", &["-r"]),
        spin: version(&spin.to_string_lossy(), &["--version"]),
        rustc: version("rustc", &["--version"]),
        tools: tools.into_iter().collect(),
    }
}

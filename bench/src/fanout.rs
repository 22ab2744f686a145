//! The fan-out study: for each Spin host thread count and fan-out width,
//! uploads the image with `POST /v1/images` `runs` times while a prober
//! sends a tiny request (`GET /v1/uploads/<unknown id>`, a 404 from the
//! manifest function) every 50 ms, and reports both latencies.

use kiln_e2e::Stack;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const WIDTHS: [&str; 3] = ["1", "2", "4"];
/// None = Spin's default (one worker per core).
const THREADS: [Option<&str>; 2] = [None, Some("8")];

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[((v.len() - 1) as f64 * p).round() as usize]
}

pub fn run(input: &[u8], path: &std::path::Path, runs: usize) {
    println!("## Fan-out: POST /v1/images of {} ({} bytes), {runs} runs per row\n", path.file_name().unwrap_or_default().to_string_lossy(), input.len());
    println!("| host threads | fan-out width | upload median ms (min–max) | tiny request p50 / p95 / max ms (n) |");
    println!("|---|---|---|---|");
    for threads in THREADS {
        for width in WIDTHS {
            let mut env = vec![("SPIN_VARIABLE_FANOUT_WIDTH", width)];
            env.extend(kiln_bench::FOUR_VARIANTS);
            if let Some(t) = threads {
                env.push(("TOKIO_WORKER_THREADS", t));
            }
            let stack = Stack::start_with(&format!("fanout-{}-{width}", threads.unwrap_or("default")), &env);
            upload(&stack, input); // warm-up
            let mut uploads = Vec::new();
            let mut probes = Vec::new();
            for _ in 0..runs {
                let (ms, mut p) = upload_while_probing(&stack, input);
                uploads.push(ms);
                probes.append(&mut p);
            }
            let (lo, hi) = uploads.iter().fold((f64::MAX, f64::MIN), |(l, h), &x| (l.min(x), h.max(x)));
            let median = percentile(&mut uploads.clone(), 0.5);
            let n = probes.len();
            println!(
                "| {} | {width} | {median:.0} ({lo:.0}–{hi:.0}) | {:.1} / {:.1} / {:.1} ({n}) |",
                threads.unwrap_or("default (= cores)"),
                percentile(&mut probes, 0.5),
                percentile(&mut probes, 0.95),
                percentile(&mut probes, 1.0),
            );
        }
    }
}

fn upload(stack: &Stack, input: &[u8]) -> f64 {
    let started = Instant::now();
    let reply = stack.post("/v1/images", "image/jpeg", input, Some(&stack.token));
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    assert_eq!(reply.json()["status"], "done");
    started.elapsed().as_secs_f64() * 1000.0
}

fn upload_while_probing(stack: &Stack, input: &[u8]) -> (f64, Vec<f64>) {
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        let prober = scope.spawn(|| {
            let mut latencies = Vec::new();
            while !done.load(Ordering::SeqCst) {
                let started = Instant::now();
                let reply = stack.get_with_token("/v1/uploads/00000000000000000000000000000000");
                assert_eq!(reply.status, 404);
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
                std::thread::sleep(Duration::from_millis(50));
            }
            latencies
        });
        let ms = upload(stack, input);
        done.store(true, Ordering::SeqCst);
        (ms, prober.join().unwrap())
    })
}

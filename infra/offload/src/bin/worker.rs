//! `kiln-offload-worker`: the machine-offload baseline's gRPC worker (see
//! the crate docs and infra/offload/README.md).

use clap::Parser;

#[tokio::main]
async fn main() {
    let args = kiln_offload::worker::Args::parse();
    let code = match kiln_offload::worker::run(args).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("kiln-offload-worker: {e:#}");
            1
        }
    };
    // Exit now: a conversion still running when the lifetime ends must not
    // keep the process (and its machine) alive.
    std::process::exit(code);
}

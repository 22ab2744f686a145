//! Entry point of the `kiln-store` binary: parse flags, run the server,
//! report a startup failure as one line on stderr with exit code 1.

use std::process::ExitCode;

use clap::Parser;

#[tokio::main]
async fn main() -> ExitCode {
    let args = kiln_store::Args::parse();
    match kiln_store::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("kiln-store: error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

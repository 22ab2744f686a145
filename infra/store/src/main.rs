//! Entry point of the `kiln-store` binary: parse flags, run the server.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = kiln_store::Args::parse();
    kiln_store::run(args).await
}

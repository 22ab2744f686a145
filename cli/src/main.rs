//! `kiln`: the command-line uploader. A thin shell over [`kiln_cli`]:
//! `kiln upload <file>...` sends each file with tus (resumable, chunked,
//! checksummed), shows progress, waits for the conversion and prints the
//! manifest as a table or `--json`.

use clap::{Parser, Subcommand};
use kiln_cli::{output, resume::ResumeStore, tus::Client, upload_file, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "kiln", version, about = "Upload images to kiln and get their web variants")]
struct Cli {
    /// kiln API base URL.
    #[arg(long, env = "KILN_API", default_value = "http://127.0.0.1:3000", global = true)]
    api: String,
    /// Bearer token (default: $KILN_TOKEN, else .kiln/dev-token).
    #[arg(long, env = "KILN_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Upload files (resuming any interrupted upload of the same file).
    Upload {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Bytes per PATCH (at most 10 MiB, hosted Spin's request limit).
        #[arg(long, default_value_t = 5 * 1024 * 1024)]
        chunk_size: u64,
        /// Print the manifests as JSON (one per line) instead of a table.
        #[arg(long)]
        json: bool,
        /// Do not wait for the conversion; print the upload URL.
        #[arg(long)]
        no_wait: bool,
        /// Where interrupted uploads are remembered.
        #[arg(long, env = "KILN_STATE_DIR")]
        state_dir: Option<PathBuf>,
        /// Stop after this many bytes, leaving the upload to resume (testing).
        #[arg(long, hide = true)]
        pause_after: Option<u64>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kiln: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    let Command::Upload { files, chunk_size, json, no_wait, state_dir, pause_after } = cli.command;
    let token = kiln_cli::token(cli.token)?;
    let client = Client::new(&cli.api, &token);
    let mut store = ResumeStore::open(state_dir)?;
    let options = Options { chunk_size, wait: !no_wait, pause_after };
    for file in &files {
        match upload_file(&client, &mut store, file, &options)? {
            kiln_cli::Finished::Paused { url, offset } => {
                eprintln!("{}: paused at byte {offset}; run the same command again to resume ({url})", file.display());
                return Ok(ExitCode::from(3));
            }
            kiln_cli::Finished::Uploaded { url } => println!("{url}"),
            kiln_cli::Finished::Converted { manifest } => {
                if json {
                    println!("{manifest}");
                } else {
                    print!("{}", output::table(&manifest));
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

//! Startup and the HTTP server loop: prepares the root folder, buckets and
//! state folders (notification spool, multipart registry), wires auth, the
//! public-read policy and notifications into an `s3s` service, prints the
//! listening line and serves until SIGINT/SIGTERM.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context as _, ensure};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder as ConnBuilder;
use hyper_util::server::graceful::GracefulShutdown;
use s3s::auth::SimpleAuth;
use s3s::service::{S3Service, S3ServiceBuilder};
use s3s_fs::FileSystem;
use tokio::net::TcpListener;

use crate::access::PublicRead;
use crate::cli::Args;
use crate::durable::{prepare_state_dir, sibling_dir};
use crate::event::EventSource;
use crate::notify::{Notifier, NotifyConfig, Target};
use crate::spool::{Spool, pending_in};
use crate::store::NotifyingStore;
use crate::uploads::Registry;

/// How long open connections may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Runs the store until SIGINT/SIGTERM.
pub async fn run(args: Args) -> anyhow::Result<()> {
    let root = prepare_root(&args.root, &args.buckets)?;
    let notifier = start_notifier(&args, &root)?;
    let multipart_dir = state_dir(args.multipart_dir.as_deref(), &root, ".multipart")?;
    let uploads = Registry::new(prepare_state_dir(&multipart_dir, &root, "multipart registry")?);
    let service = build_service(&args, &root, notifier, uploads)?;
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    announce_listening(listener.local_addr().context("reading the bound address")?)?;
    serve(listener, service).await;
    eprintln!("kiln-store: stopped");
    Ok(())
}

/// Creates the root folder and one sub-folder per bucket.
fn prepare_root(root: &Path, buckets: &[String]) -> anyhow::Result<PathBuf> {
    std::fs::create_dir_all(root).with_context(|| format!("cannot create store root {}", root.display()))?;
    let root = root
        .canonicalize()
        .with_context(|| format!("cannot resolve store root {}", root.display()))?;
    for bucket in buckets {
        ensure!(s3s::path::check_bucket_name(bucket), "invalid bucket name {bucket:?}");
        let dir = root.join(bucket);
        std::fs::create_dir_all(&dir).with_context(|| format!("cannot create bucket folder {}", dir.display()))?;
    }
    Ok(root)
}

/// The folder given by a flag, else `<root><suffix>` next to the root.
fn state_dir(flag: Option<&Path>, root: &Path, suffix: &str) -> anyhow::Result<PathBuf> {
    flag.map_or_else(|| sibling_dir(root, suffix), |dir| Ok(dir.to_owned()))
}

/// Opens the spool and starts delivering, if `--notify-url` is set.
fn start_notifier(args: &Args, root: &Path) -> anyhow::Result<Option<Notifier>> {
    let spool_dir = state_dir(args.spool_dir.as_deref(), root, ".notify")?;
    let Some(cfg) = notify_config(args)? else {
        let waiting = pending_in(&spool_dir).map_or(0, |p| p.len());
        if waiting > 0 {
            eprintln!(
                "kiln-store: {waiting} undelivered notifications wait in {}; \
                 they are sent once the store runs with --notify-url",
                spool_dir.display()
            );
        }
        return Ok(None);
    };
    let spool = Spool::open(prepare_state_dir(&spool_dir, root, "notification spool")?)?;
    let waiting = pending_in(spool.dir())?.len();
    eprintln!("kiln-store: notification spool {} ({waiting} to deliver)", spool.dir().display());
    Ok(Some(Notifier::spawn(cfg, spool)))
}

/// The notification settings, if `--notify-url` is set.
fn notify_config(args: &Args) -> anyhow::Result<Option<NotifyConfig>> {
    let Some(url) = &args.notify_url else { return Ok(None) };
    Ok(Some(NotifyConfig {
        target: Target::parse(url, args.notify_token.clone())?,
        prefixes: args.notify_prefixes.clone(),
        source: EventSource { region: args.region.clone(), principal: args.access_key.clone() },
    }))
}

/// The `s3s` service: file system store, SigV4 auth and the public-read policy.
fn build_service(args: &Args, root: &Path, notifier: Option<Notifier>, uploads: Registry) -> anyhow::Result<S3Service> {
    let fs = FileSystem::new(root).map_err(|e| anyhow::anyhow!("cannot open store at {}: {e:?}", root.display()))?;
    let mut builder = S3ServiceBuilder::new(NotifyingStore::new(fs, notifier, uploads));
    builder.set_auth(SimpleAuth::from_single(args.access_key.as_str(), args.secret_key.as_str()));
    builder.set_access(PublicRead::new(args.public_prefixes.clone()));
    Ok(builder.build())
}

/// Prints the line tests and scripts wait for, and flushes it.
fn announce_listening(addr: SocketAddr) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "kiln-store listening on http://{addr}").context("writing to stdout")?;
    out.flush().context("flushing stdout")
}

/// Accepts connections until a shutdown signal, then drains them.
async fn serve(listener: TcpListener, service: S3Service) {
    let http = ConnBuilder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown_signal());
    loop {
        let socket = tokio::select! {
            res = listener.accept() => match res {
                Ok((socket, _)) => socket,
                Err(err) => {
                    eprintln!("kiln-store: accept failed: {err}");
                    continue;
                }
            },
            () = shutdown.as_mut() => break,
        };
        let conn = http.serve_connection(TokioIo::new(socket), service.clone()).into_owned();
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    eprintln!("kiln-store: shutting down");
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown()).await.is_err() {
        eprintln!("kiln-store: connections still open after {SHUTDOWN_GRACE:?}; closing them");
    }
}

/// Resolves on the first SIGINT or SIGTERM (Ctrl-C only, off Unix).
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                eprintln!("kiln-store: cannot watch SIGTERM ({err}); only Ctrl-C stops the store");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

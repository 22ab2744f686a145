//! Command-line flags of the `kiln-store` binary (clap derive, with env fallbacks).

use std::path::PathBuf;

use clap::Parser;

/// Local S3-compatible object store for kiln development.
#[derive(Debug, Clone, Parser)]
#[command(name = "kiln-store", version, about)]
pub struct Args {
    /// Folder the objects are stored in (created if missing).
    #[arg(long, env = "KILN_STORE_ROOT")]
    pub root: PathBuf,

    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,

    /// Port to listen on; 0 picks a free port.
    #[arg(long, env = "KILN_S3_PORT", default_value_t = 9000)]
    pub port: u16,

    /// Access key id that signed requests must use.
    #[arg(long, env = "KILN_S3_ACCESS_KEY", default_value = "kiln")]
    pub access_key: String,

    /// Secret key that signed requests must use.
    #[arg(long, env = "KILN_S3_SECRET_KEY", default_value = "kiln-dev-secret", hide_env_values = true)]
    pub secret_key: String,

    /// Region reported in event notifications.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,

    /// Bucket to create at startup if missing (repeatable).
    #[arg(long = "bucket", value_name = "NAME", default_values = ["kiln"])]
    pub buckets: Vec<String>,

    /// Key prefix whose objects anyone may GET/HEAD without a signature (repeatable).
    #[arg(long = "public-prefix", value_name = "PREFIX", default_values = ["variants/"])]
    pub public_prefixes: Vec<String>,

    /// URL (http://) to POST S3 event notifications to after objects are created.
    #[arg(long, env = "KILN_NOTIFY_URL")]
    pub notify_url: Option<String>,

    /// Bearer token sent with each notification.
    #[arg(long, env = "KILN_NOTIFY_TOKEN", hide_env_values = true)]
    pub notify_token: Option<String>,

    /// Only notify for keys under this prefix (repeatable; none = every key).
    #[arg(long = "notify-prefix", value_name = "PREFIX")]
    pub notify_prefixes: Vec<String>,

    /// Folder of notifications not yet delivered (default: `<root>.notify`, next to the root).
    #[arg(long, value_name = "DIR", env = "KILN_STORE_SPOOL_DIR")]
    pub spool_dir: Option<PathBuf>,

    /// Folder of in-progress multipart upload records (default: `<root>.multipart`, next to the root).
    #[arg(long, value_name = "DIR", env = "KILN_STORE_MULTIPART_DIR")]
    pub multipart_dir: Option<PathBuf>,
}

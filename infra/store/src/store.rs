//! The S3 implementation served by `kiln-store`: `s3s_fs::FileSystem` with
//! durable event notifications.
//!
//! Every operation `s3s-fs` implements is passed straight through; PutObject,
//! CompleteMultipartUpload and CopyObject additionally spool an
//! `ObjectCreated:*` event once they succeed (before answering).

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use hyper::http::Extensions;
use hyper::{HeaderMap, Method, Uri};
use s3s::dto::*;
use s3s::{S3, S3Error, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;

use crate::event::{EventName, ObjectCreated};
use crate::notify::Notifier;

/// `s3s_fs::FileSystem` plus optional webhook notifications.
pub struct NotifyingStore {
    inner: Arc<FileSystem>,
    notifier: Option<Notifier>,
}

impl NotifyingStore {
    /// Wraps `inner`; with `notifier` set, created objects are announced.
    pub fn new(inner: FileSystem, notifier: Option<Notifier>) -> Self {
        Self { inner: Arc::new(inner), notifier }
    }

    /// Spools the event for a freshly created object, if anyone listens for
    /// it. An error means the event could not be made durable: the request
    /// fails (with InternalError) rather than lose it silently.
    async fn announce(&self, name: EventName, bucket: String, key: String) -> S3Result<()> {
        let Some(notifier) = self.notifier.clone() else { return Ok(()) };
        if key.ends_with('/') || !notifier.wants(&key) {
            return Ok(());
        }
        let inner = Arc::clone(&self.inner);
        detached(async move {
            let (size, e_tag) = match stat(&inner, &bucket, &key).await {
                Ok(stat) => stat,
                Err(err) => {
                    // Deleted meanwhile: there is nothing left to announce.
                    eprintln!("kiln-store: notify skipped for {bucket}/{key}: {err:#}");
                    return Ok(());
                }
            };
            let event = ObjectCreated { name, bucket, key, size, e_tag };
            notifier
                .send(&event)
                .await
                .with_context(|| format!("cannot spool the {} event for {}/{}", name.as_str(), event.bucket, event.key))
        })
        .await
        .map_err(internal_error)
    }
}

/// Size and unquoted ETag of a stored object.
async fn stat(fs: &FileSystem, bucket: &str, key: &str) -> anyhow::Result<(u64, String)> {
    let input = HeadObjectInput::builder()
        .bucket(bucket.to_owned())
        .key(key.to_owned())
        .build()?;
    let output = fs
        .head_object(internal_request(input, Method::HEAD))
        .await
        .map_err(|err| anyhow!("cannot stat the new object: {err}"))?
        .output;
    let size = output.content_length.and_then(|n| u64::try_from(n).ok()).unwrap_or(0);
    let e_tag = output.e_tag.map(ETag::into_value).unwrap_or_default();
    Ok((size, e_tag))
}

/// Runs `work` as its own task, so that a client hanging up (which drops the
/// request's future) cannot stop it halfway, and waits for it.
async fn detached<T>(work: impl Future<Output = anyhow::Result<T>> + Send + 'static) -> anyhow::Result<T>
where
    T: Send + 'static,
{
    tokio::spawn(work).await.context("background task failed")?
}

/// Logs `err` loudly and turns it into an S3 InternalError.
fn internal_error(err: anyhow::Error) -> S3Error {
    eprintln!("kiln-store: ERROR {err:#}");
    s3_error!(InternalError, "{err:#}")
}

/// A request made by the store itself (not from the network).
fn internal_request<T>(input: T, method: Method) -> S3Request<T> {
    S3Request {
        input,
        method,
        uri: Uri::default(),
        headers: HeaderMap::new(),
        extensions: Extensions::new(),
        credentials: None,
        region: None,
        service: None,
        trailing_headers: None,
    }
}

/// Implements `S3` for `NotifyingStore`: the listed operations delegate to
/// the file system unchanged; the trailing items are written out by hand.
macro_rules! impl_s3 {
    (pass_through { $($op:ident($input:ty) -> $output:ty;)* } $($custom:tt)*) => {
        #[async_trait::async_trait]
        impl S3 for NotifyingStore {
            $(
                async fn $op(&self, req: S3Request<$input>) -> S3Result<S3Response<$output>> {
                    self.inner.$op(req).await
                }
            )*
            $($custom)*
        }
    };
}

impl_s3! {
    pass_through {
        get_object(GetObjectInput) -> GetObjectOutput;
        head_object(HeadObjectInput) -> HeadObjectOutput;
        delete_object(DeleteObjectInput) -> DeleteObjectOutput;
        delete_objects(DeleteObjectsInput) -> DeleteObjectsOutput;
        list_objects(ListObjectsInput) -> ListObjectsOutput;
        list_objects_v2(ListObjectsV2Input) -> ListObjectsV2Output;
        list_buckets(ListBucketsInput) -> ListBucketsOutput;
        create_bucket(CreateBucketInput) -> CreateBucketOutput;
        head_bucket(HeadBucketInput) -> HeadBucketOutput;
        delete_bucket(DeleteBucketInput) -> DeleteBucketOutput;
        get_bucket_location(GetBucketLocationInput) -> GetBucketLocationOutput;
        create_multipart_upload(CreateMultipartUploadInput) -> CreateMultipartUploadOutput;
        upload_part(UploadPartInput) -> UploadPartOutput;
        upload_part_copy(UploadPartCopyInput) -> UploadPartCopyOutput;
        list_parts(ListPartsInput) -> ListPartsOutput;
        abort_multipart_upload(AbortMultipartUploadInput) -> AbortMultipartUploadOutput;
    }

    async fn put_object(&self, req: S3Request<PutObjectInput>) -> S3Result<S3Response<PutObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.inner.put_object(req).await?;
        self.announce(EventName::Put, bucket, key).await?;
        Ok(resp)
    }

    async fn copy_object(&self, req: S3Request<CopyObjectInput>) -> S3Result<S3Response<CopyObjectOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.inner.copy_object(req).await?;
        self.announce(EventName::Copy, bucket, key).await?;
        Ok(resp)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.inner.complete_multipart_upload(req).await?;
        self.announce(EventName::CompleteMultipartUpload, bucket, key).await?;
        Ok(resp)
    }
}

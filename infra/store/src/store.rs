//! The S3 implementation served by `kiln-store`: `s3s_fs::FileSystem` with
//! durable event notifications and a multipart upload registry.
//!
//! Every operation `s3s-fs` implements is passed straight through; PutObject,
//! CompleteMultipartUpload and CopyObject additionally spool an
//! `ObjectCreated:*` event once they succeed (before answering), the multipart
//! operations keep the [`Registry`] up to date, and ListMultipartUploads,
//! which `s3s-fs` lacks, is answered from that registry.

use std::future::Future;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};
use hyper::http::Extensions;
use hyper::{HeaderMap, Method, Uri};
use s3s::dto::*;
use s3s::{S3, S3Error, S3ErrorCode, S3Request, S3Response, S3Result, s3_error};
use s3s_fs::FileSystem;
use time::OffsetDateTime;

use crate::event::{EventName, ObjectCreated};
use crate::notify::Notifier;
use crate::uploads::{self, PageQuery, Registry, Upload};

/// `s3s_fs::FileSystem` plus optional webhook notifications and the
/// multipart upload registry.
pub struct NotifyingStore {
    inner: Arc<FileSystem>,
    notifier: Option<Notifier>,
    uploads: Registry,
}

impl NotifyingStore {
    /// Wraps `inner`; with `notifier` set, created objects are announced.
    pub fn new(inner: FileSystem, notifier: Option<Notifier>, uploads: Registry) -> Self {
        Self { inner: Arc::new(inner), notifier, uploads }
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

    /// Forgets a finished upload; a failure is logged, not returned (the
    /// upload itself is done), and leaves a stale listing entry.
    async fn forget_upload(&self, upload_id: String) {
        let uploads = self.uploads.clone();
        if let Err(err) = detached(async move { uploads.forget(&upload_id).await }).await {
            eprintln!("kiln-store: MULTIPART REGISTRY: {err:#}");
        }
    }

    /// S3's answer for an upload id the store does not know. `s3s-fs`
    /// says AccessDenied (the one key pair is checked before any operation
    /// runs, so an unknown id is the only reason); S3 says 404 NoSuchUpload,
    /// and clients rely on it: a CompleteMultipartUpload retried after its
    /// first answer was lost meets it. A registry entry left for the id is
    /// dropped, so listings stop showing it.
    async fn unknown_upload(&self, err: S3Error, upload_id: &str) -> S3Error {
        if *err.code() != S3ErrorCode::AccessDenied {
            return err;
        }
        if let Ok(Some(u)) = self.uploads.get(upload_id).await {
            let Upload { bucket, key, upload_id, .. } = &u;
            eprintln!("kiln-store: multipart upload {upload_id} of {bucket}/{key} is gone; unlisting it");
            self.forget_upload(u.upload_id).await;
        }
        s3_error!(NoSuchUpload)
    }

    /// ListMultipartUploads from the registry.
    async fn list_uploads(&self, input: ListMultipartUploadsInput) -> S3Result<ListMultipartUploadsOutput> {
        let head = HeadBucketInput::builder()
            .bucket(input.bucket.clone())
            .build()
            .map_err(|e| internal_error(e.into()))?;
        self.inner.head_bucket(internal_request(head, Method::HEAD)).await?;
        if input.delimiter.as_deref().is_some_and(|d| !d.is_empty()) {
            return Err(s3_error!(NotImplemented, "kiln-store does not support a delimiter in ListMultipartUploads"));
        }
        let max_uploads = match input.max_uploads {
            None => uploads::MAX_UPLOADS,
            Some(n) => usize::try_from(n)
                .map_err(|_| s3_error!(InvalidArgument, "max-uploads must not be negative"))?
                .min(uploads::MAX_UPLOADS),
        };
        let query = PageQuery {
            prefix: input.prefix.as_deref().unwrap_or(""),
            key_marker: input.key_marker.as_deref(),
            upload_id_marker: input.upload_id_marker.as_deref(),
            max_uploads,
        };
        let all = self.uploads.list(&input.bucket).await.map_err(internal_error)?;
        let page = uploads::select_page(all, &query);
        let last = page.uploads.last();
        Ok(ListMultipartUploadsOutput {
            next_key_marker: last.map(|u| u.key.clone()),
            next_upload_id_marker: last.map(|u| u.upload_id.clone()),
            is_truncated: Some(page.truncated),
            max_uploads: Some(i32::try_from(max_uploads).unwrap_or(i32::MAX)),
            uploads: Some(page.uploads.into_iter().map(listed).collect()),
            bucket: Some(input.bucket),
            prefix: input.prefix,
            key_marker: input.key_marker,
            upload_id_marker: input.upload_id_marker,
            ..Default::default()
        })
    }
}

/// An upload as ListMultipartUploads shows it.
fn listed(u: Upload) -> MultipartUpload {
    MultipartUpload {
        key: Some(u.key),
        upload_id: Some(u.upload_id),
        initiated: Some(u.initiated),
        storage_class: Some(StorageClass::from_static(StorageClass::STANDARD)),
        ..Default::default()
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
    }

    async fn upload_part(&self, req: S3Request<UploadPartInput>) -> S3Result<S3Response<UploadPartOutput>> {
        let upload_id = req.input.upload_id.clone();
        match self.inner.upload_part(req).await {
            Ok(resp) => Ok(resp),
            Err(err) => Err(self.unknown_upload(err, &upload_id).await),
        }
    }

    async fn upload_part_copy(&self, req: S3Request<UploadPartCopyInput>) -> S3Result<S3Response<UploadPartCopyOutput>> {
        let upload_id = req.input.upload_id.clone();
        match self.inner.upload_part_copy(req).await {
            Ok(resp) => Ok(resp),
            Err(err) => Err(self.unknown_upload(err, &upload_id).await),
        }
    }

    async fn list_parts(&self, req: S3Request<ListPartsInput>) -> S3Result<S3Response<ListPartsOutput>> {
        let upload_id = req.input.upload_id.clone();
        match self.inner.list_parts(req).await {
            Ok(resp) => Ok(resp),
            Err(err) => Err(self.unknown_upload(err, &upload_id).await),
        }
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

    async fn create_multipart_upload(
        &self,
        req: S3Request<CreateMultipartUploadInput>,
    ) -> S3Result<S3Response<CreateMultipartUploadOutput>> {
        let (bucket, key) = (req.input.bucket.clone(), req.input.key.clone());
        let resp = self.inner.create_multipart_upload(req).await?;
        let upload_id = resp.output.upload_id.clone();
        let upload_id = upload_id.ok_or_else(|| internal_error(anyhow!("s3s-fs answered without an upload id")))?;
        let upload = Upload { bucket, key, upload_id, initiated: OffsetDateTime::now_utc().into() };
        let uploads = self.uploads.clone();
        detached(async move { uploads.record(&upload).await }).await.map_err(internal_error)?;
        Ok(resp)
    }

    async fn complete_multipart_upload(
        &self,
        req: S3Request<CompleteMultipartUploadInput>,
    ) -> S3Result<S3Response<CompleteMultipartUploadOutput>> {
        let (bucket, key, upload_id) = (req.input.bucket.clone(), req.input.key.clone(), req.input.upload_id.clone());
        let resp = match self.inner.complete_multipart_upload(req).await {
            Ok(resp) => resp,
            Err(err) => return Err(self.unknown_upload(err, &upload_id).await),
        };
        self.forget_upload(upload_id).await;
        self.announce(EventName::CompleteMultipartUpload, bucket, key).await?;
        Ok(resp)
    }

    async fn abort_multipart_upload(
        &self,
        req: S3Request<AbortMultipartUploadInput>,
    ) -> S3Result<S3Response<AbortMultipartUploadOutput>> {
        let input = req.input.clone();
        match self.inner.abort_multipart_upload(req).await {
            Ok(resp) => {
                self.forget_upload(input.upload_id).await;
                Ok(resp)
            }
            Err(err) => Err(self.unknown_upload(err, &input.upload_id).await),
        }
    }

    async fn list_multipart_uploads(
        &self,
        req: S3Request<ListMultipartUploadsInput>,
    ) -> S3Result<S3Response<ListMultipartUploadsOutput>> {
        Ok(S3Response::new(self.list_uploads(req.input).await?))
    }
}

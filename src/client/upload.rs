//! Uploading a file from the page: `POST /upload` with a progress bar, cancellable, and my
//! picture (`POST /avatar`). `fetch` cannot
//! report an upload's progress, so this is `XMLHttpRequest`.

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{File, FormData, ProgressEvent, XmlHttpRequest};

use crate::protocol::FileInfo;

/// A callback the request calls.
type Callback = Closure<dyn FnMut(JsValue)>;

/// An upload in flight; [`Upload::cancel`] stops it. Its callbacks live as long as the request.
pub struct Upload {
    xhr: XmlHttpRequest,
    _callbacks: Vec<Callback>,
}

impl Upload {
    /// Stops the upload; `on_done` is not called.
    pub fn cancel(&self) {
        self.xhr.set_onload(None);
        self.xhr.set_onerror(None);
        let _ = self.xhr.abort();
    }
}

/// Starts uploading `file`: `on_progress` gets the fraction sent (0 to 1), `on_done` the file as the
/// server keeps it, or what to tell the person.
pub fn start(
    file: &File,
    on_progress: impl Fn(f64) + 'static,
    on_done: impl FnOnce(Result<FileInfo, String>) + 'static,
) -> Result<Upload, JsValue> {
    post_file("/upload", file, on_progress, move |answer| {
        on_done(answer.and_then(|body| {
            FileInfo::decode(&body).ok_or_else(|| "the server's answer was unreadable".to_owned())
        }));
    })
}

/// Sets `file` as my picture (`POST /avatar`); the server tells every page, this one included,
/// with an `avatar` frame. `on_done` gets what to tell the person if it was refused.
pub fn set_avatar(
    file: &File,
    on_done: impl FnOnce(Result<(), String>) + 'static,
) -> Result<Upload, JsValue> {
    post_file(
        "/avatar",
        file,
        |_| {},
        move |answer| on_done(answer.map(drop)),
    )
}

/// Posts `file` as the multipart field `file` to `url`; `on_done` gets the answer's body, or what
/// to tell the person.
fn post_file(
    url: &str,
    file: &File,
    on_progress: impl Fn(f64) + 'static,
    on_done: impl FnOnce(Result<String, String>) + 'static,
) -> Result<Upload, JsValue> {
    let xhr = XmlHttpRequest::new()?;
    xhr.open("POST", url)?;
    let form = FormData::new()?;
    form.append_with_blob_and_filename("file", file, &file.name())?;
    let progress = Callback::new(move |event: JsValue| {
        if let Some(event) = event.dyn_ref::<ProgressEvent>() {
            if event.length_computable() && event.total() > 0.0 {
                on_progress(event.loaded() / event.total());
            }
        }
    });
    xhr.upload()?
        .set_onprogress(Some(progress.as_ref().unchecked_ref()));
    let done = Rc::new(RefCell::new(Some(on_done)));
    let finish = {
        let done = Rc::clone(&done);
        let xhr = xhr.clone();
        Callback::new(move |_| {
            let Some(on_done) = done.borrow_mut().take() else {
                return;
            };
            let body = xhr.response_text().ok().flatten().unwrap_or_default();
            on_done(match xhr.status().unwrap_or(0) {
                200 => Ok(body),
                _ => Err(refusal(&body)),
            });
        })
    };
    let failed = Callback::new(move |_| {
        if let Some(on_done) = done.borrow_mut().take() {
            on_done(Err("the upload broke off; try again".to_owned()));
        }
    });
    xhr.set_onload(Some(finish.as_ref().unchecked_ref()));
    xhr.set_onerror(Some(failed.as_ref().unchecked_ref()));
    xhr.send_with_opt_form_data(Some(&form))?;
    Ok(Upload {
        xhr,
        _callbacks: vec![progress, finish, failed],
    })
}

/// What a refusal (`{"error":...,"message":...}`) tells the person.
fn refusal(body: &str) -> String {
    crate::protocol::wire::Json::parse(body)
        .and_then(|json| json.get("message").and_then(|m| m.as_str()))
        .unwrap_or_else(|| "the upload was refused".to_owned())
}

//! The `chinwag` server binary. Everything lives in the library; see `chinwag::server::run`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match chinwag::server::run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("chinwag: {err}");
            std::process::ExitCode::FAILURE
        }
    }
}

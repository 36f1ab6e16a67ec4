//! A chain page too large to be real is refused while it is read, over a real socket,
//! whether the server announces its length or streams it in chunks.

use std::time::Duration;

use chainboard_massive::rest::{ApiKey, RestClient, RestConfig};
use chainboard_model::{RootMap, Underlying};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Bytes the server sends: three times the client's cap.
const SENT: usize = 3 << 20;
/// The client's cap.
const LIMIT: usize = 1 << 20;

/// A server that answers every request with `SENT` bytes of a JSON-looking body,
/// with a `Content-Length` or chunked.
async fn oversized(chunked: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buf = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let piece = vec![b' '; 64 << 10];
                let head = if chunked {
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n".to_owned()
                } else {
                    format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {SENT}\r\n\r\n"
                    )
                };
                if socket.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
                for _ in 0..SENT / piece.len() {
                    let sent = if chunked {
                        let mut framed = format!("{:x}\r\n", piece.len()).into_bytes();
                        framed.extend_from_slice(&piece);
                        framed.extend_from_slice(b"\r\n");
                        socket.write_all(&framed).await
                    } else {
                        socket.write_all(&piece).await
                    };
                    if sent.is_err() {
                        return;
                    }
                }
                if chunked {
                    let _ = socket.write_all(b"0\r\n\r\n").await;
                }
            });
        }
    });
    format!("http://{addr}")
}

#[tokio::test]
async fn an_oversized_page_is_refused_with_a_clear_error() {
    for chunked in [false, true] {
        let url = oversized(chunked).await;
        let mut config = RestConfig::new(url.parse().expect("url"));
        config.max_body_bytes = LIMIT;
        config.attempts = 1;
        config.timeout = Duration::from_secs(10);
        let rest =
            RestClient::new(config, ApiKey::new("k".to_owned()).expect("key")).expect("client");
        let underlying = Underlying::new("SPX").expect("valid");
        let error = rest
            .load_chain(underlying, &RootMap::default(), &[], 1)
            .await
            .expect_err("refused");
        let text = error.to_string();
        assert!(
            text.contains(&format!("over the {LIMIT}-byte limit")),
            "chunked={chunked}: {text}"
        );
    }
}

//! A loopback TCP proxy whose relay-to-client direction can be cut, so a test can let a
//! command reach the relay while its answer never reaches the desk.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

pub struct Proxy {
    pub addr: SocketAddr,
    downstream_open: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Proxy {
    /// Proxies every connection to `target`.
    ///
    /// # Errors
    /// Binding a loopback port failed.
    pub async fn start(target: SocketAddr) -> anyhow::Result<Proxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let downstream_open = Arc::new(AtomicBool::new(true));
        let open = downstream_open.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let open = open.clone();
                tokio::spawn(async move {
                    if let Ok(upstream) = TcpStream::connect(target).await {
                        pipe(client, upstream, open).await;
                    }
                });
            }
        });
        Ok(Proxy {
            addr,
            downstream_open,
            task,
        })
    }

    /// From now on, bytes from the relay are read and dropped instead of forwarded.
    pub fn cut_downstream(&self) {
        self.downstream_open.store(false, Ordering::SeqCst);
    }

    /// Forwards relay bytes again (for connections made from now on, and open ones).
    pub fn restore_downstream(&self) {
        self.downstream_open.store(true, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn pipe(client: TcpStream, upstream: TcpStream, open: Arc<AtomicBool>) {
    let (mut cr, mut cw) = client.into_split();
    let (mut ur, mut uw) = upstream.into_split();
    let up = async {
        let _ = tokio::io::copy(&mut cr, &mut uw).await;
    };
    let down = async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = match ur.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if open.load(Ordering::SeqCst) && cw.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::join!(up, down);
}

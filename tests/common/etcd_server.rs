//! An etcd server for the tests of the etcd engine: one member on 127.0.0.1, in a
//! temp dir, stopped when dropped.
#![allow(dead_code)]

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use drift::Db;

/// An etcd server on 127.0.0.1 in a temp dir, stopped when dropped.
pub struct Server {
    child: Child,
    _dir: tempfile::TempDir,
    pub endpoint: String,
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

impl Server {
    /// Starts a one-member cluster; `extra` adds server flags. Tests run in
    /// parallel, and a port found free can be taken before etcd binds it: a server
    /// that exits at once is started again on other ports.
    pub fn start(extra: &[&str]) -> Server {
        for _ in 0..5 {
            if let Some(server) = Server::try_start(extra) {
                return server;
            }
        }
        panic!("etcd did not start on 127.0.0.1 in 5 attempts");
    }

    fn try_start(extra: &[&str]) -> Option<Server> {
        let dir = tempfile::tempdir().unwrap();
        let (client, peer) = (free_port(), free_port());
        let endpoint = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let child = Command::new("etcd")
            .args(["--name", "drift-test", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &endpoint, "--advertise-client-urls", &endpoint])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("drift-test={peer_url}")])
            .args(["--log-level", "error"])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("etcd starts (Debian: apt-get install etcd-server)");
        let mut server = Server { child, _dir: dir, endpoint };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            // A server that exited lost its ports to another: whatever answers there
            // is not ours.
            if !matches!(server.child.try_wait(), Ok(None)) {
                return None;
            }
            let probe = Db::builder().etcd([server.endpoint.clone()], "probe/").map(drop);
            if probe.is_ok() && matches!(server.child.try_wait(), Ok(None)) {
                return Some(server);
            }
            assert!(Instant::now() < deadline, "etcd did not come up: {probe:?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

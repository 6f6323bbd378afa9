//! What the TLS integration tests share: certificates generated per test (rcgen), a server
//! child process (ringmq, or nats-server with `RINGMQ_TEST_SERVER=nats-server`) whose log is
//! collected, and a blocking rustls NATS client.

// Each test binary uses a different subset.
#![allow(dead_code)]

use super::common::{frame_len, text, Flavor, READY_LINE};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};
use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

/// Deadline for one expected reply (generous: the machine is shared).
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);
/// nats-server's default TLS handshake deadline, which ringmq shares.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
const NATS_SERVER_PATH: &str = "/usr/sbin/nats-server";

// ---- certificates ----

/// A CA, a server certificate for localhost/127.0.0.1, a client certificate from that CA and
/// one from an unrelated CA, as PEM files in a directory removed on drop.
pub struct Certificates {
    pub directory: PathBuf,
    /// The CA, for client certificates a test issues itself ([`Certificates::issue_client`]).
    pub ca: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl Certificates {
    pub fn generate(test: &str) -> Certificates {
        let directory =
            std::env::temp_dir().join(format!("ringmq-tls-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&directory).expect("temp dir");
        let write = |name: &str, pem: String| {
            std::fs::write(directory.join(name), pem).expect("write PEM");
        };
        let (ca, ca_pem) = certificate_authority("ringmq test CA");
        write("ca.pem", ca_pem);
        let (server, server_key) = leaf(
            &ca,
            &["localhost", "127.0.0.1"],
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        );
        write("server-cert.pem", server);
        write("server-key.pem", server_key);
        let (client, client_key) = leaf(&ca, &[], rcgen::ExtendedKeyUsagePurpose::ClientAuth);
        write("client-cert.pem", client);
        write("client-key.pem", client_key);
        let (stranger_ca, _) = certificate_authority("someone else's CA");
        let (stranger, stranger_key) = leaf(
            &stranger_ca,
            &[],
            rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        );
        write("stranger-cert.pem", stranger);
        write("stranger-key.pem", stranger_key);
        Certificates { directory, ca }
    }

    /// Writes `{name}-cert.pem` and `{name}-key.pem`: a client certificate from the CA with
    /// this subject and these SANs (for `client_config(Some(name))`).
    pub fn issue_client(
        &self,
        name: &str,
        subject: &[(rcgen::DnType, &str)],
        alternative_names: Vec<rcgen::SanType>,
    ) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        for (kind, value) in subject {
            params.distinguished_name.push(kind.clone(), *value);
        }
        params.subject_alt_names = alternative_names;
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let key = rcgen::KeyPair::generate().unwrap();
        let certificate = params.signed_by(&key, &self.ca).unwrap();
        std::fs::write(self.path(&format!("{name}-cert.pem")), certificate.pem()).unwrap();
        std::fs::write(self.path(&format!("{name}-key.pem")), key.serialize_pem()).unwrap();
    }

    /// A `tls {}` block with the server's certificate and key, plus `extra` keys.
    pub fn tls_block(&self, extra: &str) -> String {
        format!(
            "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  ca_file: \"{}\"\n{extra}\n}}\n",
            self.path("server-cert.pem").display(),
            self.path("server-key.pem").display(),
            self.path("ca.pem").display()
        )
    }

    /// Writes `text` as the configuration file `name` and returns `-c <file>`.
    pub fn config_args(&self, name: &str, text: &str) -> Vec<String> {
        let path = self.path(name);
        std::fs::write(&path, text).unwrap();
        vec!["-c".to_string(), path.display().to_string()]
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.directory.join(name)
    }

    /// `--tls --tlscert … --tlskey …`
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls".into(),
            "--tlscert".into(),
            self.path("server-cert.pem").display().to_string(),
            "--tlskey".into(),
            self.path("server-key.pem").display().to_string(),
        ]
    }

    /// The server arguments plus `--tlsverify --tlscacert ca.pem`.
    pub fn verifying_server_args(&self) -> Vec<String> {
        let mut args = self.server_args();
        args.push("--tlsverify".into());
        args.push("--tlscacert".into());
        args.push(self.path("ca.pem").display().to_string());
        args
    }

    /// A client trusting our CA, presenting `identity` ("client", "stranger") if given.
    pub fn client_config(&self, identity: Option<&str>) -> Arc<ClientConfig> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for certificate in CertificateDer::pem_file_iter(self.path("ca.pem")).unwrap() {
            roots.add(certificate.unwrap()).unwrap();
        }
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match identity {
            Some(name) => {
                let chain = CertificateDer::pem_file_iter(self.path(&format!("{name}-cert.pem")))
                    .unwrap()
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key =
                    PrivateKeyDer::from_pem_file(self.path(&format!("{name}-key.pem"))).unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        Arc::new(config)
    }
}

impl Drop for Certificates {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.directory);
    }
}

pub fn certificate_authority(name: &str) -> (rcgen::Issuer<'static, rcgen::KeyPair>, String) {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::DigitalSignature,
    ];
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.self_signed(&key).unwrap();
    (rcgen::Issuer::new(params, key), certificate.pem())
}

/// A certificate signed by `issuer` and its key, both PEM.
pub fn leaf(
    issuer: &rcgen::Issuer<'static, rcgen::KeyPair>,
    names: &[&str],
    usage: rcgen::ExtendedKeyUsagePurpose,
) -> (String, String) {
    let names: Vec<String> = names.iter().map(|name| name.to_string()).collect();
    let mut params = rcgen::CertificateParams::new(names).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "ringmq test");
    params.extended_key_usages = vec![usage];
    let key = rcgen::KeyPair::generate().unwrap();
    let certificate = params.signed_by(&key, issuer).unwrap();
    (certificate.pem(), key.serialize_pem())
}

// ---- servers ----

/// The server's stderr lines and whether stderr has closed, with a condvar for waiters.
pub type Log = Arc<(Mutex<(Vec<String>, bool)>, Condvar)>;

/// A server child process with TLS flags; its stderr is collected for log assertions.
pub struct Server {
    pub child: Child,
    pub port: u16,
    pub log: Log,
    pub flavor: Flavor,
}

impl Server {
    pub fn start(args: &[String]) -> Server {
        Server::start_flavor(Flavor::from_env(), args)
    }

    pub fn start_flavor(flavor: Flavor, args: &[String]) -> Server {
        let mut command = match flavor {
            Flavor::Ringmq => {
                let mut command = Command::new(env!("CARGO_BIN_EXE_ringmq"));
                command.args(["--cores", "2"]);
                command
            }
            Flavor::NatsServer => Command::new(nats_server_path()),
        };
        command
            .args(["-a", "127.0.0.1", "-p", "-1"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("spawn server");
        let log: Log = Arc::new((Mutex::new((Vec::new(), false)), Condvar::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let drain = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                drain.0.lock().unwrap().0.push(line);
                drain.1.notify_all();
            }
            drain.0.lock().unwrap().1 = true;
            drain.1.notify_all();
        });
        let mut server = Server {
            child,
            port: 0,
            log,
            flavor,
        };
        let line = server.wait_for_log(READY_LINE);
        let port = line.rsplit(':').next().expect("address with a port");
        server.port = port.trim().parse().expect("numeric port");
        server
    }

    /// Waits until a log line contains `needle`; panics with the log at the deadline.
    /// Everything logged so far.
    pub fn log_text(&self) -> String {
        self.log.0.lock().unwrap().0.join("\n")
    }

    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let (lock, changed) = &*self.log;
        let mut state = lock.lock().unwrap();
        loop {
            if let Some(line) = state.0.iter().find(|line| line.contains(needle)) {
                return line.clone();
            }
            let now = Instant::now();
            assert!(
                !state.1 && now < deadline,
                "no log line with {needle:?}; log:\n{}",
                state.0.join("\n")
            );
            state = changed.wait_timeout(state, deadline - now).unwrap().0;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn nats_server_path() -> &'static str {
    if Path::new(NATS_SERVER_PATH).exists() {
        NATS_SERVER_PATH
    } else {
        "nats-server"
    }
}

pub fn nats_server_installed() -> bool {
    Command::new(nats_server_path())
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

// ---- clients ----

/// Connects over plain TCP and reads the INFO line byte by byte, so that nothing after it
/// is consumed.
pub fn connect_and_read_info(port: u16) -> (TcpStream, String) {
    let (stream, info) = connect_and_read_info_line(port);
    assert!(info.starts_with("INFO {"), "{info}");
    (stream, info)
}

/// Connects over plain TCP and reads one CRLF-terminated line byte by byte.
pub fn connect_and_read_info_line(port: u16) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_nodelay(true).unwrap();
    stream.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
    let mut info = Vec::new();
    let mut byte = [0u8; 1];
    while !info.ends_with(b"\r\n") {
        let count = stream.read(&mut byte).expect("INFO arrives");
        assert_eq!(count, 1, "EOF inside INFO: {:?}", text(&info));
        info.push(byte[0]);
    }
    let info = String::from_utf8(info).expect("INFO is UTF-8");
    (stream, info)
}

/// How a TLS connection ended.
#[derive(Debug, PartialEq)]
pub enum Ending {
    /// The server said close_notify.
    CloseNotify,
    /// TCP EOF without close_notify.
    Eof,
    /// The server sent this fatal alert.
    Alert(rustls::AlertDescription),
}

/// A NATS client over rustls on a blocking socket.
pub struct TlsClient {
    pub stream: StreamOwned<ClientConnection, TcpStream>,
    pub pending: Vec<u8>,
    pub info: String,
}

impl TlsClient {
    /// Reads INFO in plain text, then performs the handshake.
    pub fn connect(port: u16, config: Arc<ClientConfig>) -> TlsClient {
        let (mut tcp, info) = connect_and_read_info(port);
        let name = ServerName::try_from("localhost").unwrap();
        let mut session = ClientConnection::new(config, name).expect("client session");
        while session.is_handshaking() {
            session.complete_io(&mut tcp).expect("TLS handshake");
        }
        TlsClient {
            stream: StreamOwned::new(session, tcp),
            pending: Vec::new(),
            info,
        }
    }

    /// `handshake_first`: the handshake at once, then INFO as the first encrypted frame.
    pub fn connect_first(port: u16, config: Arc<ClientConfig>) -> TlsClient {
        let mut tcp = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        tcp.set_nodelay(true).unwrap();
        tcp.set_read_timeout(Some(REPLY_TIMEOUT)).unwrap();
        let name = ServerName::try_from("localhost").unwrap();
        let mut session = ClientConnection::new(config, name).expect("client session");
        while session.is_handshaking() {
            session.complete_io(&mut tcp).expect("TLS handshake");
        }
        let mut client = TlsClient {
            stream: StreamOwned::new(session, tcp),
            pending: Vec::new(),
            info: String::new(),
        };
        let info = client
            .next_frame(Instant::now() + REPLY_TIMEOUT)
            .expect("INFO after the handshake");
        client.info = String::from_utf8(info).expect("INFO is UTF-8");
        client
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("TLS write");
        self.stream.flush().expect("TLS flush");
    }

    /// Reads more plaintext; Err says how the connection ended.
    pub fn fill(&mut self, deadline: Instant) -> Result<(), Ending> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        assert!(
            !remaining.is_zero(),
            "deadline passed; have {:?}",
            text(&self.pending)
        );
        self.stream.sock.set_read_timeout(Some(remaining)).unwrap();
        let mut chunk = [0u8; 64 * 1024];
        match self.stream.read(&mut chunk) {
            Ok(0) => Err(Ending::CloseNotify),
            Ok(count) => {
                self.pending.extend_from_slice(&chunk[..count]);
                Ok(())
            }
            Err(error) if matches!(error.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!(
                    "no reply before the deadline; have {:?}",
                    text(&self.pending)
                )
            }
            Err(error) if error.kind() == ErrorKind::UnexpectedEof => Err(Ending::Eof),
            Err(error) if error.kind() == ErrorKind::ConnectionReset => Err(Ending::Eof),
            Err(error) => match error
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(rustls::Error::AlertReceived(alert)) => Err(Ending::Alert(*alert)),
                _ => panic!("TLS read: {error}"),
            },
        }
    }

    /// The next frame, server PINGs skipped; Err once the connection ends.
    pub fn next_frame(&mut self, deadline: Instant) -> Result<Vec<u8>, Ending> {
        loop {
            while let Some(length) = frame_len(&self.pending) {
                let frame: Vec<u8> = self.pending.drain(..length).collect();
                if frame != b"PING\r\n" {
                    return Ok(frame);
                }
            }
            self.fill(deadline)?;
        }
    }

    /// Reads frames until exactly `expected.len()` bytes arrived and compares them.
    pub fn expect(&mut self, expected: &[u8]) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        let mut got = Vec::new();
        while got.len() < expected.len() {
            match self.next_frame(deadline) {
                Ok(frame) => got.extend_from_slice(&frame),
                Err(ending) => panic!("{ending:?} after {:?}", text(&got)),
            }
        }
        assert!(
            got == expected,
            "got {:?}\nwanted {:?}",
            text(&got),
            text(expected)
        );
    }

    /// Everything until the connection ends, and how it ended.
    pub fn read_to_end(&mut self) -> (Vec<u8>, Ending) {
        let deadline = Instant::now() + REPLY_TIMEOUT;
        loop {
            if let Err(ending) = self.fill(deadline) {
                return (std::mem::take(&mut self.pending), ending);
            }
        }
    }
}

/// A payload whose bytes differ by position, so a misplaced byte shows.
pub fn payload(length: usize) -> Vec<u8> {
    (0..length).map(|i| b'a' + (i % 26) as u8).collect()
}

pub fn msg(subject: &str, sid: &str, payload: &[u8]) -> Vec<u8> {
    let mut frame = format!("MSG {subject} {sid} {}\r\n", payload.len()).into_bytes();
    frame.extend_from_slice(payload);
    frame.extend_from_slice(b"\r\n");
    frame
}

pub fn publish(subject: &str, payload: &[u8]) -> Vec<u8> {
    let mut frame = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
    frame.extend_from_slice(payload);
    frame.extend_from_slice(b"\r\n");
    frame
}

pub const CONNECT_QUIET: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n";

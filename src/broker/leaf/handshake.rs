//! The leaf handshake (spec beyond-core §B.2): the hub's INFO on accept (with a nonce), the
//! leaf's CONNECT (a client's CONNECT, one with `lang`, is refused; a second link from the
//! same `server_id` into the same account replaces the first, as nats-server 2.9.10 does),
//! authorized by `auth`, then a second INFO with `connect_info` and `remote_account` (the
//! account the link is bound to), the hub's interest as LS+ and its `$LDS` subject.

use super::auth::{LeafPermissions, LinkDeny, PendingConnect};
use super::{Phase, Shard};
use crate::auth::SubjectPermission;
use crate::broker::route::PermissionJson;
use crate::runtime::{ConnId, Io};
use serde::Serialize;

/// The INFO nats-server sends on its leaf port, in its field order.
#[derive(Serialize)]
struct LeafInfo<'a> {
    server_id: &'a str,
    server_name: &'a str,
    version: &'a str,
    proto: u32,
    go: &'a str,
    host: &'a str,
    port: u16,
    headers: bool,
    auth_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_required: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    tls_verify: bool,
    max_payload: usize,
    ip: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    /// The cluster's name, when clustered.
    #[serde(skip_serializing_if = "Option::is_none")]
    cluster: Option<&'a str>,
    /// The leaf's user's subscribe and publish permissions (the INFO after its CONNECT).
    #[serde(skip_serializing_if = "Option::is_none")]
    import: Option<PermissionJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    export: Option<PermissionJson<'a>>,
    info_on_connect: bool,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    connect_info: bool,
    leafnode_urls: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    remote_account: Option<&'a str>,
}

/// The per-connection fields of a leaf INFO (none in an asynchronous one).
struct Greeting<'a> {
    client_id: Option<u64>,
    nonce: Option<&'a str>,
    connect_info: bool,
    remote_account: Option<&'a str>,
    import: Option<&'a SubjectPermission>,
    export: Option<&'a SubjectPermission>,
}

/// The fields of a leaf's CONNECT that the hub reads.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct LeafConnect {
    server_id: String,
    name: String,
    lang: Option<String>,
    user: Option<String>,
    pass: Option<String>,
    auth_token: Option<String>,
    deny_pub: Vec<String>,
    cluster: Option<String>,
}

impl Shard {
    /// The INFO on accept (`connect_info: false`, with a nonce) or after CONNECT.
    pub(super) fn send_leaf_info(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        cid: u64,
        connect_info: bool,
    ) {
        let account = self
            .link(conn)
            .map_or(crate::auth::GLOBAL_ACCOUNT, |link| link.account);
        let account = self.live.auth.account_name(account).to_string();
        let nonce = (!connect_info).then(crate::auth::new_nonce);
        let permissions = self
            .link(conn)
            .and_then(|link| link.permissions.as_ref())
            .filter(|_| connect_info);
        let (import, export) = permissions.map_or((None, None), |p| p.user_lists());
        let greeting = Greeting {
            client_id: Some(cid),
            nonce: nonce.as_deref(),
            connect_info,
            remote_account: connect_info.then_some(account.as_str()),
            import,
            export,
        };
        if let Some(json) = self.leaf_info_json(&greeting) {
            io.write_parts(conn, &[b"INFO ", json.as_bytes(), b" \r\n"]);
        }
    }

    /// This server's leaf URL as leaves are told it: the advertised address, else the
    /// one bound (`None` without a leaf port).
    pub(in crate::broker) fn own_leaf_url(&self) -> Option<String> {
        let leaf = self.live.config.leafnodes.as_ref()?;
        Some(match &leaf.advertise {
            Some((host, port)) => super::super::join_host_port(host, *port),
            None => {
                super::super::join_host_port(&leaf.host, self.shared.leaf_port.unwrap_or(leaf.port))
            }
        })
    }

    /// The leaf INFO's JSON with the per-connection fields of `greeting`.
    fn leaf_info_json(&self, greeting: &Greeting<'_>) -> Option<String> {
        let live = &self.live;
        let leaf = live.config.leafnodes.as_ref()?;
        let address = self.own_leaf_url()?;
        let (host, port) = match &leaf.advertise {
            Some((host, port)) => (host.as_str(), *port),
            None => (
                leaf.host.as_str(),
                self.shared.leaf_port.unwrap_or(leaf.port),
            ),
        };
        // Every cluster node's leaf URL (ours when not clustered), for leaves to fail over.
        let own = [address.clone()];
        let leaf_urls: &[String] = if self.cluster_leaf_urls.is_empty() {
            &own
        } else {
            &self.cluster_leaf_urls
        };
        let cluster = live
            .config
            .cluster
            .as_ref()
            .map(|_| self.cluster.name.as_str());
        let info = LeafInfo {
            server_id: &live.info.server_id,
            server_name: &live.info.server_name,
            version: &live.info.version,
            proto: 1,
            go: &live.info.go,
            host,
            port,
            headers: true,
            // nats-server always says so on its leaf port (the nonce is there to be signed).
            auth_required: true,
            tls_required: self.shared.leaf_tls.port_requires_tls(),
            tls_verify: leaf.tls.as_ref().is_some_and(|tls| tls.verify),
            max_payload: live.config.limits.max_payload,
            ip: &address,
            client_id: greeting.client_id,
            nonce: greeting.nonce,
            cluster,
            import: greeting.import.map(PermissionJson::of),
            export: greeting.export.map(PermissionJson::of),
            info_on_connect: true,
            connect_info: greeting.connect_info,
            leafnode_urls: leaf_urls,
            remote_account: greeting.remote_account,
        };
        // Go's encoder escapes `<`, `>` and `&` (the permission lists' `>`).
        Some(super::go_json(
            serde_json::to_string(&info).expect("INFO serialises"),
        ))
    }

    /// The cluster's leaf URLs changed: every accepted leaf link is sent the leaf INFO
    /// again (no per-connection fields), as nats-server does.
    pub(in crate::broker) fn send_async_leaf_info(&mut self, io: &mut Io<'_>) {
        let greeting = Greeting {
            client_id: None,
            nonce: None,
            connect_info: false,
            remote_account: None,
            import: None,
            export: None,
        };
        let Some(json) = self.leaf_info_json(&greeting) else {
            return;
        };
        for link in self.links.iter().flatten() {
            if link.phase == Phase::Active && link.remote.is_none() {
                io.write_parts(link.id, &[b"INFO ", json.as_bytes(), b" \r\n"]);
            }
        }
    }

    /// The leaf's CONNECT: authorized first (see `auth`), then the handshake goes on.
    pub(super) fn on_leaf_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        json: &[u8],
    ) -> Result<(), &'static str> {
        let connect: LeafConnect = match serde_json::from_slice(json) {
            Ok(connect) => connect,
            Err(_) => return Err("Protocol Violation"),
        };
        self.cancel_leaf_auth_timer(io, conn);
        let pending = PendingConnect {
            server_id: connect.server_id,
            name: connect.name,
            deny_pub: connect.deny_pub,
            cluster: connect.cluster,
            user: connect.user,
            pass: connect.pass,
            token: connect.auth_token,
            lang: connect.lang.is_some(),
            ..PendingConnect::default()
        };
        self.authorize_leaf(io, conn, pending)
    }

    /// An authorized CONNECT: refuses a client's, replaces a duplicate, binds the link to
    /// its account, then the second INFO and the hub's interest.
    pub(super) fn finish_leaf_connect(
        &mut self,
        io: &mut Io<'_>,
        conn: ConnId,
        connect: PendingConnect,
        identity: crate::auth::Identity,
    ) -> Result<(), &'static str> {
        if connect.lang {
            self.write_leaf_error(io, conn, "attempted to connect to leaf node port");
            return Err("Incorrect Port");
        }
        let duplicate = self
            .links
            .iter()
            .flatten()
            .find(|link| {
                link.id != conn
                    && link.phase == Phase::Active
                    && link.account == identity.account
                    && link.remote_id == connect.server_id
            })
            .map(|link| link.id);
        let Some(link) = self.link_mut(conn) else {
            return Ok(());
        };
        link.remote_id = connect.server_id;
        link.remote_name = connect.name;
        link.remote_cluster = connect.cluster.filter(|c| !c.is_empty()).map(Into::into);
        link.account = identity.account;
        link.bound = true;
        // nats-server merges the leaf's `deny_pub` (its deny_imports) into the publish
        // deny of the connection: nothing on those subjects is sent to it.
        link.deny = LinkDeny::new(&connect.deny_pub, &[]);
        // A leaf logged in as a user with permissions: nats-server turns them around.
        link.permissions = identity.rules.as_deref().map(LeafPermissions::new);
        link.phase = Phase::Active;
        let cid = link.cid;
        if let Some(old) = duplicate {
            if let Some(link) = self.link(old) {
                crate::error!(
                    "{} - lid:{} - Duplicate Remote LeafNode Connection",
                    link.peer,
                    link.cid
                );
            }
            self.write_leaf_error(io, old, "Duplicate Remote LeafNode Connection");
            self.close_leaf(io, old, "Duplicate Remote LeafNode Connection");
        }
        self.send_leaf_info(io, conn, cid, true);
        self.send_hub_interest(io, conn);
        // A PING at once, for /leafz `rtt` (nats-server sends its first within a second);
        // not counted against `ping_max`.
        io.write(conn, crate::protocol::encoder::PING);
        let now = io.now();
        if let Some(link) = self.link_mut(conn) {
            link.ping_sent_at = Some(now);
        }
        // nats-server logs nothing here at the hub: debug level.
        if let Some(link) = self.link(conn) {
            crate::debug!(
                "{} - lid:{} - Leafnode connection to {:?} ({}) ready",
                link.peer,
                link.cid,
                link.remote_name,
                link.remote_id
            );
        }
        Ok(())
    }

    pub(super) fn write_leaf_error(&mut self, io: &mut Io<'_>, conn: ConnId, text: &str) {
        if let Some(link) = self.link(conn) {
            crate::error!("{} - lid:{} - {text}", link.peer, link.cid);
        }
        self.line.clear();
        crate::protocol::encoder::err_line(&mut self.line, text);
        io.write(conn, &self.line);
    }
}

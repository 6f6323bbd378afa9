//! Route permissions (`cluster { permissions { import, export } }`), applied as nats-server
//! 2.9.10 applies them, to interest first:
//!
//! - `import`, checked like a publish permission: our interest in a subject it refuses is
//!   not sent as RS+/RS- (`canImport`), so the peer never sends us those messages.
//! - `export`, checked like a subscribe permission: a peer's RS+ for a subject it refuses
//!   is ignored (`canExport`, logged at debug level). A wildcard RS+ that a deny entry
//!   falls within is kept, and each message written to that route is checked against the
//!   deny list (nats-server's delivery deny filter on the route connection).
//!
//! Every route of a server has the same permissions; our route INFO tells them to the
//! peer (`import`, `export`). The compiled rules are kept on core 0 per configuration
//! generation; each route has its own [`ClientPermissions`] for the delivery filter.

use super::Shard;
use crate::auth::{ClientPermissions, Permissions, Rules, SubjectPermission};
use crate::config::RoutePermissions;
use crate::runtime::ConnId;
use serde::Serialize;
use std::sync::Arc;

/// `import`/`export` in a route or leaf INFO, as nats-server writes a `SubjectPermission`.
#[derive(Serialize)]
pub(in crate::broker) struct PermissionJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    allow: Option<&'a [String]>,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    deny: &'a [String],
}

impl<'a> PermissionJson<'a> {
    pub(in crate::broker) fn of(permission: &'a SubjectPermission) -> PermissionJson<'a> {
        PermissionJson {
            allow: permission.allow.as_deref().filter(|list| !list.is_empty()),
            deny: &permission.deny,
        }
    }
}

/// A `SubjectPermission` as a route or leaf INFO carries it.
#[derive(serde::Deserialize, Default)]
#[serde(default)]
pub(in crate::broker) struct PeerPermission {
    allow: Option<Vec<String>>,
    deny: Vec<String>,
}

impl PeerPermission {
    pub(in crate::broker) fn into_permission(self) -> crate::auth::SubjectPermission {
        crate::auth::SubjectPermission {
            allow: self.allow,
            deny: self.deny,
        }
    }
}

/// The compiled route rules of one configuration generation.
#[derive(Debug, Default)]
pub(in crate::broker) struct RouteRules {
    /// The generation compiled for; `None`: not yet.
    generation: Option<u64>,
    rules: Option<Arc<Rules>>,
}

/// The rules of route permissions: `import` is a publish permission, `export` a
/// subscribe one (nats-server's `setRoutePermissions`); `None`: everything allowed.
pub(super) fn compile(permissions: Option<&RoutePermissions>) -> Option<Arc<Rules>> {
    let permissions = permissions?;
    let as_user = Permissions {
        publish: permissions.import.clone(),
        subscribe: permissions.export.clone(),
        responses: None,
    };
    // The configuration was checked when it was read.
    Rules::compile(&as_user).ok().map(Arc::new)
}

/// The rules of a peer's `export` alone, as its INFO tells it (what it takes from us).
pub(super) fn compile_export(export: Option<&SubjectPermission>) -> Option<Arc<Rules>> {
    let as_user = Permissions {
        publish: None,
        subscribe: Some(export?.clone()),
        responses: None,
    };
    Rules::compile(&as_user).ok().map(Arc::new)
}

impl Shard {
    /// The route rules of the running configuration (`None`: no route permissions).
    pub(super) fn route_rules(&mut self) -> Option<Arc<Rules>> {
        let generation = self.live.generation;
        if self.route_rules.generation != Some(generation) {
            let permissions = self
                .live
                .config
                .cluster
                .as_ref()
                .and_then(|cluster| cluster.permissions.as_ref());
            self.route_rules = RouteRules {
                generation: Some(generation),
                rules: compile(permissions),
            };
        }
        self.route_rules.rules.clone()
    }

    /// The permission state a new route starts with.
    pub(super) fn new_route_permissions(&mut self) -> Option<Box<ClientPermissions>> {
        self.route_rules()
            .map(|rules| Box::new(ClientPermissions::new(rules)))
    }

    /// Whether our interest in `pattern` may be sent to the routes (`import`).
    pub(super) fn route_may_import(&mut self, pattern: &[u8]) -> bool {
        self.route_rules()
            .is_none_or(|rules| rules.publish_allowed(pattern))
    }

    /// Whether a route's RS+ for `subject` is accepted (`export`); arms the route's
    /// delivery filter when a wildcard reaches around a deny entry.
    pub(super) fn route_may_export(&mut self, conn: ConnId, subject: &[u8]) -> bool {
        match self
            .route_mut(conn)
            .and_then(|route| route.permissions.as_mut())
        {
            Some(permissions) => permissions.may_subscribe(subject, None),
            None => true,
        }
    }
}

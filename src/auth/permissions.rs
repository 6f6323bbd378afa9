//! Publish and subscribe permissions: the compiled rules of one user ([`Rules`], shared by
//! all of that user's connections) and the per-connection state that keeps their checks off
//! the hot path ([`ClientPermissions`]: the publish cache, response grants, the delivery deny
//! filter).
//!
//! Matching follows nats-server 2.9.10, whose permission lists are subscription tables that a
//! subject is matched against *as a literal*: the wildcards of a SUB subject are ordinary
//! tokens there, so `allow: ["foo.*"]` admits `SUB foo.>` (`*` matches the token `>`), and
//! `deny: ["secret.>"]` does not refuse `SUB >`. The latter is why a connection whose
//! wildcard subscription overlaps a deny entry also filters what is delivered to it.

use super::config::{Permissions, ResponsePermission};
use crate::subjects::FastMap;
use std::sync::Arc;
use std::time::Instant;

/// Publish decisions cached per connection (nats-server's `maxPermCacheSize`). Over it,
/// [`CACHE_PRUNE_COUNT`] arbitrary entries are dropped and recomputed when next needed.
pub const PUBLISH_CACHE_MAX: usize = 128;

/// Delivery deny decisions cached per connection (nats-server's `maxDenyPermCacheSize`).
/// Over it, [`CACHE_PRUNE_COUNT`] arbitrary entries are dropped.
pub const DELIVERY_CACHE_MAX: usize = 256;

/// Entries dropped at once when a decision cache is full (nats-server's `pruneSize`).
pub const CACHE_PRUNE_COUNT: usize = 32;

/// Reply subjects a connection with `allow_responses` remembers (nats-server's
/// `replyPermLimit`). Over it, used-up and expired grants are dropped; if every grant is
/// still live, arbitrary ones are dropped down to the bound, and a late response to one of
/// them is refused as a permissions violation.
pub const RESPONSE_GRANTS_MAX: usize = 4096;

/// One allow/deny entry: a subject pattern and, for subscribe entries, a queue group.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    pattern: Box<[u8]>,
    queue: Option<Box<[u8]>>,
}

impl Entry {
    /// `"subject"` or `"subject queue"` (split on whitespace, as nats-server does).
    fn parse(text: &str) -> Result<Entry, String> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let (pattern, queue) = match fields[..] {
            [pattern] => (pattern, None),
            [pattern, queue] => (pattern, Some(queue)),
            _ => return Err(format!("subject {text:?} is not a valid subject")),
        };
        if !crate::subjects::is_valid_pattern(pattern.as_bytes()) {
            return Err(format!("subject {pattern:?} is not a valid subject"));
        }
        Ok(Entry {
            pattern: pattern.as_bytes().into(),
            queue: queue.map(|q| q.as_bytes().into()),
        })
    }
}

/// A list of entries with nats-server's match results: plain entries and queue entries apart.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct EntryList {
    entries: Vec<Entry>,
}

impl EntryList {
    fn parse(texts: &[String]) -> Result<EntryList, String> {
        let entries = texts
            .iter()
            .map(|t| Entry::parse(t))
            .collect::<Result<_, _>>()?;
        Ok(EntryList { entries })
    }

    /// Whether a plain (queue-less) entry matches `subject`.
    fn matches_plain(&self, subject: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.queue.is_none() && literal_match(&e.pattern, subject))
    }

    /// Queue names of the queue entries that match `subject`.
    fn matching_queues<'a>(&'a self, subject: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.entries.iter().filter_map(move |e| match &e.queue {
            Some(queue) if literal_match(&e.pattern, subject) => Some(&queue[..]),
            _ => None,
        })
    }
}

/// The compiled permissions of one user; shared by its connections.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `None`: publish anything not denied. `Some(empty)`: nothing (with `allow_responses`).
    publish_allow: Option<EntryList>,
    publish_deny: EntryList,
    /// `None` (also for an empty list, as in nats-server): subscribe to anything not denied.
    subscribe_allow: Option<EntryList>,
    subscribe_deny: EntryList,
    responses: Option<ResponsePermission>,
    /// The lists as configured (a leaf is told its user's lists in an INFO).
    source: Permissions,
}

impl Rules {
    /// Compiles a user's permissions; an invalid subject is an error naming it.
    pub fn compile(permissions: &Permissions) -> Result<Rules, String> {
        let mut rules = Rules {
            source: permissions.clone(),
            ..Rules::default()
        };
        if let Some(publish) = &permissions.publish {
            rules.publish_allow = publish.allow.as_deref().map(EntryList::parse).transpose()?;
            rules.publish_deny = EntryList::parse(&publish.deny)?;
        }
        if let Some(subscribe) = &permissions.subscribe {
            rules.subscribe_allow = match subscribe.allow.as_deref() {
                Some(allow) if !allow.is_empty() => Some(EntryList::parse(allow)?),
                _ => None,
            };
            rules.subscribe_deny = EntryList::parse(&subscribe.deny)?;
        }
        if let Some(responses) = permissions.responses {
            // A response permission turns off the blanket publish allow (nats-server's
            // validateResponsePermissions).
            rules.publish_allow.get_or_insert_with(EntryList::default);
            rules.responses = Some(responses);
        }
        Ok(rules)
    }

    /// The permissions these rules were compiled from.
    pub fn source(&self) -> &Permissions {
        &self.source
    }

    /// The rules of a leaf link whose leaf logged in as this user, as nats-server 2.9.10
    /// turns them around at the hub (data flows the other way): the user's subscribe lists
    /// become the publish check of what is written to the leaf, its publish lists the
    /// subscribe check of the interest the leaf is told. Queue entries of the subscribe
    /// lists match no message, as in nats-server; response grants do not apply.
    pub fn turned_for_leaf(&self) -> Rules {
        Rules {
            publish_allow: self.subscribe_allow.clone(),
            publish_deny: self.subscribe_deny.clone(),
            subscribe_allow: self.publish_allow.clone(),
            subscribe_deny: self.publish_deny.clone(),
            responses: None,
            source: self.source.clone(),
        }
    }

    /// nats-server's canSubscribe on a leaf connection: as [`Rules::subscribe_allowed`]
    /// without a queue, except that a wildcard subject refused by the allow list is allowed
    /// when it covers an allow entry (what it would carry is pruned message by message).
    pub fn leaf_subscribe_allowed(&self, subject: &[u8]) -> bool {
        let allowed = self.subscribe_allow.as_ref().is_none_or(|allow| {
            allow.matches_plain(subject)
                || (has_wildcard(subject)
                    && allow
                        .entries
                        .iter()
                        .any(|e| e.queue.is_none() && literal_match(subject, &e.pattern)))
        });
        allowed && !self.subscribe_deny.matches_plain(subject)
    }

    /// Whether publishing is restricted at all (else no per-message check is needed).
    pub fn restricts_publish(&self) -> bool {
        self.publish_allow.is_some() || !self.publish_deny.entries.is_empty()
    }

    /// The allow and deny lists alone, without response grants (nats-server's pubAllowed
    /// before its reply check).
    pub fn publish_allowed(&self, subject: &[u8]) -> bool {
        let allowed = self
            .publish_allow
            .as_ref()
            .is_none_or(|allow| allow.matches_plain(subject));
        allowed && !self.publish_deny.matches_plain(subject)
    }

    /// nats-server's canSubscribe: allow then deny, where queue entries decide for queue
    /// subscriptions whenever any of them matches the subject.
    pub fn subscribe_allowed(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let mut allowed = true;
        if let Some(allow) = &self.subscribe_allow {
            allowed = allow.matches_plain(subject);
            if let Some(queue) = queue {
                if allow.matching_queues(subject).next().is_some() {
                    allowed = queue_matches(queue, allow.matching_queues(subject));
                }
            }
        }
        if allowed {
            let deny = &self.subscribe_deny;
            allowed = !deny.matches_plain(subject);
            if let Some(queue) = queue {
                if deny.matching_queues(subject).next().is_some() {
                    allowed = !queue_matches(queue, deny.matching_queues(subject));
                }
            }
        }
        allowed
    }

    /// Whether a subscription to `subject` can receive messages a deny entry covers: a
    /// wildcard subject that a plain deny entry is a subset of.
    fn needs_delivery_filter(&self, subject: &[u8]) -> bool {
        has_wildcard(subject)
            && self
                .subscribe_deny
                .entries
                .iter()
                .any(|e| e.queue.is_none() && is_subset_match(&e.pattern, subject))
    }
}

/// One reply subject a connection may answer (`allow_responses`).
#[derive(Debug, Clone, Copy)]
struct ResponseGrant {
    granted_at: Instant,
    used: u32,
}

/// The permission state of one connection. Only connections whose user has permissions
/// have one, so the common case costs one `Option` check per operation.
#[derive(Debug)]
pub struct ClientPermissions {
    rules: Arc<Rules>,
    /// subject → allowed, for subjects decided by the lists alone.
    publish_cache: FastMap<Box<[u8]>, bool>,
    /// Reply subjects of messages delivered to this connection (`allow_responses` only).
    grants: FastMap<Box<[u8]>, ResponseGrant>,
    /// subject → denied, once a wildcard subscription overlaps a deny entry.
    delivery_filter: Option<FastMap<Box<[u8]>, bool>>,
}

impl ClientPermissions {
    pub fn new(rules: Arc<Rules>) -> ClientPermissions {
        ClientPermissions {
            rules,
            publish_cache: FastMap::default(),
            grants: FastMap::default(),
            delivery_filter: None,
        }
    }

    /// Whether this connection may publish to `subject` now. A subject the lists refuse may
    /// still be a reply subject this connection was granted; using a grant counts against it.
    pub fn may_publish(&mut self, subject: &[u8], now: Instant) -> bool {
        if !self.rules.restricts_publish() {
            return true;
        }
        if let Some(&allowed) = self.publish_cache.get(subject) {
            return allowed;
        }
        let allowed = self.rules.publish_allowed(subject);
        if !allowed {
            if let Some(responses) = self.rules.responses {
                // Like nats-server, a refusal is not cached while grants can overturn it.
                return self.use_grant(subject, responses, now);
            }
        }
        if self.publish_cache.len() >= PUBLISH_CACHE_MAX {
            prune(&mut self.publish_cache);
        }
        self.publish_cache.insert(subject.into(), allowed);
        allowed
    }

    fn use_grant(&mut self, subject: &[u8], responses: ResponsePermission, now: Instant) -> bool {
        let Some(grant) = self.grants.get_mut(subject) else {
            return false;
        };
        grant.used += 1;
        let used_up = responses.max_msgs.is_some_and(|max| grant.used > max);
        let expired = responses
            .expires
            .is_some_and(|ttl| now.duration_since(grant.granted_at) > ttl);
        if used_up || expired {
            self.grants.remove(subject);
            return false;
        }
        true
    }

    /// Whether this connection may subscribe; also arms the delivery filter when the new
    /// subscription could receive denied subjects.
    pub fn may_subscribe(&mut self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let allowed = self.rules.subscribe_allowed(subject, queue);
        if allowed && self.delivery_filter.is_none() && self.rules.needs_delivery_filter(subject) {
            self.delivery_filter = Some(FastMap::default());
        }
        allowed
    }

    /// Whether a message on `subject` may be delivered to this connection (deny entries that
    /// a wildcard subscription reached around).
    pub fn may_receive(&mut self, subject: &[u8]) -> bool {
        let Some(filter) = self.delivery_filter.as_mut() else {
            return true;
        };
        if let Some(&denied) = filter.get(subject) {
            return !denied;
        }
        let denied = self.rules.subscribe_deny.matches_plain(subject);
        if filter.len() >= DELIVERY_CACHE_MAX {
            prune(filter);
        }
        filter.insert(subject.into(), denied);
        !denied
    }

    /// Whether this connection tracks the reply subjects it receives (`allow_responses`).
    pub fn grants_responses(&self) -> bool {
        self.rules.responses.is_some()
    }

    /// Remembers the reply subject of a message delivered to this connection.
    pub fn grant_response(&mut self, reply: &[u8], now: Instant) {
        let Some(responses) = self.rules.responses else {
            return;
        };
        match self.grants.get_mut(reply) {
            Some(grant) => {
                *grant = ResponseGrant {
                    granted_at: now,
                    used: 0,
                }
            }
            None => {
                if self.grants.len() >= RESPONSE_GRANTS_MAX {
                    self.prune_grants(responses, now);
                }
                self.grants.insert(
                    reply.into(),
                    ResponseGrant {
                        granted_at: now,
                        used: 0,
                    },
                );
            }
        }
    }

    fn prune_grants(&mut self, responses: ResponsePermission, now: Instant) {
        self.grants.retain(|_, grant| {
            let used_up = responses.max_msgs.is_some_and(|max| grant.used >= max);
            let expired = responses
                .expires
                .is_some_and(|ttl| now.duration_since(grant.granted_at) > ttl);
            !(used_up || expired)
        });
        while self.grants.len() >= RESPONSE_GRANTS_MAX {
            let Some(key) = self.grants.keys().next().cloned() else {
                break;
            };
            self.grants.remove(&key);
        }
    }

    /// Cached publish decisions (for tests and monitoring).
    pub fn publish_cache_len(&self) -> usize {
        self.publish_cache.len()
    }

    /// Live response grants (for tests and monitoring).
    pub fn response_grant_count(&self) -> usize {
        self.grants.len()
    }
}

/// Drops [`CACHE_PRUNE_COUNT`] arbitrary entries (hash order), as nats-server does.
fn prune<V>(cache: &mut FastMap<Box<[u8]>, V>) {
    let victims: Vec<Box<[u8]>> = cache.keys().take(CACHE_PRUNE_COUNT).cloned().collect();
    for key in victims {
        cache.remove(&key);
    }
}

/// Whether `pattern` matches `subject` with the subject's tokens taken literally (a `*` or
/// `>` in the subject is just a token). A subject with an empty token matches nothing.
pub fn literal_match(pattern: &[u8], subject: &[u8]) -> bool {
    if subject.split(|&b| b == b'.').any(<[u8]>::is_empty) {
        return false;
    }
    let mut pattern_tokens = pattern.split(|&b| b == b'.');
    let mut subject_tokens = subject.split(|&b| b == b'.');
    loop {
        match (pattern_tokens.next(), subject_tokens.next()) {
            (Some(b">"), Some(_)) => return true,
            (Some(p), Some(s)) if p == b"*" || p == s => {}
            (None, None) => return true,
            _ => return false,
        }
    }
}

/// Whether a token of `subject` is a wildcard.
fn has_wildcard(subject: &[u8]) -> bool {
    subject
        .split(|&b| b == b'.')
        .any(|token| token == b"*" || token == b">")
}

/// nats-server's isSubsetMatch: whether everything `subject` (which may hold wildcards)
/// matches is also matched by `test`.
pub fn is_subset_match(subject: &[u8], test: &[u8]) -> bool {
    let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    let mut count = 0;
    for (index, test_token) in test.split(|&b| b == b'.').enumerate() {
        count = index + 1;
        let Some(&token) = tokens.get(index) else {
            return false;
        };
        if test_token.is_empty() {
            return false;
        }
        if test_token == b">" {
            return true;
        }
        if token.is_empty() || token == b">" {
            return false;
        }
        if token == b"*" {
            if test_token != b"*" {
                return false;
            }
            continue;
        }
        if test_token != b"*" && token != test_token {
            return false;
        }
    }
    tokens.len() == count
}

/// nats-server's queueMatches: the queue equals a matching entry's queue, or that entry's
/// queue is a pattern the queue name falls under.
fn queue_matches<'a>(queue: &[u8], mut names: impl Iterator<Item = &'a [u8]>) -> bool {
    names.any(|name| name == queue || (has_wildcard(name) && is_subset_match(queue, name)))
}

#[cfg(test)]
mod tests {
    use super::super::config::SubjectPermission;
    use super::*;
    use std::time::Duration;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn rules(publish: Option<(&[&str], &[&str])>, subscribe: Option<(&[&str], &[&str])>) -> Rules {
        let side = |p: Option<(&[&str], &[&str])>| {
            p.map(|(allow, deny)| SubjectPermission {
                allow: (!allow.is_empty()).then(|| list(allow)),
                deny: list(deny),
            })
        };
        Rules::compile(&Permissions {
            publish: side(publish),
            subscribe: side(subscribe),
            responses: None,
        })
        .unwrap()
    }

    #[test]
    fn literal_matching_treats_subject_wildcards_as_tokens() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.>", true),
            ("foo.*", "foo.bar.baz", false),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "foo", false),
            (">", "anything.at.all", true),
            ("foo.bar", "foo.*", false),
            ("secret.>", ">", false),
            ("*.b", "a.b", true),
            (">", "foo..bar", false),
            ("foo", "foo.", false),
        ];
        for &(pattern, subject, expected) in cases {
            assert_eq!(
                literal_match(pattern.as_bytes(), subject.as_bytes()),
                expected,
                "{pattern} vs {subject}"
            );
        }
    }

    #[test]
    fn subset_matching_follows_nats_server() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo.*", ">", true),
            ("foo.*", "*.*", true),
            ("foo.*", "foo.*", true),
            ("foo.*", "foo.bar", false),
            ("secret.>", ">", true),
            ("secret.x", "secret.*", true),
            ("secret.>", "secret.*", false),
            ("a.b", "a.b", true),
            ("a.b", "a.b.c", false),
            ("a.b.c", "a.b", false),
            ("v1.x", "v1.*", true),
        ];
        for &(subject, test, expected) in cases {
            assert_eq!(
                is_subset_match(subject.as_bytes(), test.as_bytes()),
                expected,
                "{subject} within {test}"
            );
        }
    }

    #[test]
    fn publish_allow_then_deny() {
        let r = rules(Some((&["ok.>", "_INBOX.>"], &["ok.no"])), None);
        assert!(r.publish_allowed(b"ok.yes"));
        assert!(r.publish_allowed(b"_INBOX.abc"));
        assert!(!r.publish_allowed(b"ok.no"));
        assert!(!r.publish_allowed(b"other"));
        let deny_only = rules(Some((&[], &["secret.>"])), None);
        assert!(deny_only.publish_allowed(b"anything"));
        assert!(!deny_only.publish_allowed(b"secret.x"));
        assert!(!rules(None, None).restricts_publish());
    }

    /// The observed nats-server answers for user `bob` of the wire tests (tests/auth.rs).
    #[test]
    fn subscribe_rules_with_queues_match_nats_server() {
        let r = rules(
            None,
            Some((
                &["ok.>", "secret.>", "q.* grp", "qq.*"],
                &["secret.>", "qq.x bad"],
            )),
        );
        let check = |subject: &str, queue: Option<&str>| {
            r.subscribe_allowed(subject.as_bytes(), queue.map(str::as_bytes))
        };
        assert!(check("ok.x", None));
        assert!(check("ok.x", Some("any")));
        assert!(!check("secret.x", None));
        assert!(!check("secret.x", Some("q")));
        assert!(!check("q.a", None), "only queue subscriptions to q.*");
        assert!(check("q.a", Some("grp")));
        assert!(!check("q.a", Some("other")));
        assert!(check("qq.x", None));
        assert!(!check("qq.x", Some("bad")));
        assert!(check("qq.x", Some("good")));
        assert!(!check(">", None));
        assert!(!check("elsewhere", None));
    }

    #[test]
    fn queue_entries_may_be_patterns() {
        let r = rules(None, Some((&["work v1.*"], &[])));
        assert!(r.subscribe_allowed(b"work", Some(b"v1.a")));
        assert!(!r.subscribe_allowed(b"work", Some(b"v2.a")));
        assert!(!r.subscribe_allowed(b"work", None));
    }

    #[test]
    fn a_wildcard_subscription_around_a_deny_filters_deliveries() {
        let r = Arc::new(rules(None, Some((&[], &["secret.>"]))));
        let mut client = ClientPermissions::new(r);
        assert!(
            client.may_receive(b"secret.x"),
            "no filter before a wildcard sub"
        );
        assert!(client.may_subscribe(b">", None));
        assert!(!client.may_receive(b"secret.x"));
        assert!(!client.may_receive(b"secret.x"), "cached");
        assert!(client.may_receive(b"public.x"));
    }

    #[test]
    fn publish_cache_is_bounded() {
        let r = Arc::new(rules(Some((&["ok.>"], &[])), None));
        let mut client = ClientPermissions::new(r);
        let now = Instant::now();
        for n in 0..1000 {
            let subject = format!("ok.{n}");
            assert!(client.may_publish(subject.as_bytes(), now));
            assert!(client.publish_cache_len() <= PUBLISH_CACHE_MAX);
        }
        assert!(!client.may_publish(b"no", now));
        assert!(!client.may_publish(b"no", now), "a cached refusal");
        assert!(client.publish_cache_len() > PUBLISH_CACHE_MAX - CACHE_PRUNE_COUNT);
    }

    #[test]
    fn response_grants_count_and_expire() {
        let mut permissions = Permissions {
            publish: Some(SubjectPermission {
                allow: None,
                deny: list(&[">"]),
            }),
            subscribe: None,
            responses: Some(ResponsePermission {
                max_msgs: Some(2),
                expires: Some(Duration::from_secs(60)),
            }),
        };
        let mut client = ClientPermissions::new(Arc::new(Rules::compile(&permissions).unwrap()));
        let start = Instant::now();
        assert!(!client.may_publish(b"_INBOX.r", start), "no grant yet");
        client.grant_response(b"_INBOX.r", start);
        assert!(client.may_publish(b"_INBOX.r", start));
        assert!(client.may_publish(b"_INBOX.r", start));
        assert!(!client.may_publish(b"_INBOX.r", start), "max 2");
        assert!(!client.may_publish(b"_INBOX.r", start));
        client.grant_response(b"_INBOX.s", start);
        let late = start + Duration::from_secs(61);
        assert!(!client.may_publish(b"_INBOX.s", late), "expired");
        assert_eq!(client.response_grant_count(), 0);

        permissions.responses = Some(ResponsePermission {
            max_msgs: None,
            expires: None,
        });
        let mut unlimited = ClientPermissions::new(Arc::new(Rules::compile(&permissions).unwrap()));
        unlimited.grant_response(b"r", start);
        for _ in 0..100 {
            assert!(unlimited.may_publish(b"r", late));
        }
    }

    #[test]
    fn response_permission_turns_off_the_blanket_publish_allow() {
        let permissions = Permissions {
            publish: None,
            subscribe: None,
            responses: Some(ResponsePermission::default()),
        };
        let r = Rules::compile(&permissions).unwrap();
        assert!(r.restricts_publish());
        assert!(!r.publish_allowed(b"anything"));
    }

    #[test]
    fn response_grants_are_bounded() {
        let permissions = Permissions {
            publish: None,
            subscribe: None,
            responses: Some(ResponsePermission {
                max_msgs: None,
                expires: None,
            }),
        };
        let mut client = ClientPermissions::new(Arc::new(Rules::compile(&permissions).unwrap()));
        let now = Instant::now();
        for n in 0..RESPONSE_GRANTS_MAX + 10 {
            client.grant_response(format!("r.{n}").as_bytes(), now);
            assert!(client.response_grant_count() <= RESPONSE_GRANTS_MAX);
        }
        let last = format!("r.{}", RESPONSE_GRANTS_MAX + 9);
        assert!(client.may_publish(last.as_bytes(), now));
    }

    #[test]
    fn invalid_subjects_are_refused_at_compile_time() {
        let bad = Permissions {
            publish: Some(SubjectPermission {
                allow: Some(list(&["foo..bar"])),
                deny: vec![],
            }),
            ..Permissions::default()
        };
        assert_eq!(
            Rules::compile(&bad).unwrap_err(),
            "subject \"foo..bar\" is not a valid subject"
        );
        let three = Permissions {
            subscribe: Some(SubjectPermission {
                allow: Some(list(&["a b c"])),
                deny: vec![],
            }),
            ..Permissions::default()
        };
        assert!(Rules::compile(&three).is_err());
    }
}

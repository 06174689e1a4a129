//! Node allocation rules (pycos's `DispycosNodeAllocate`): which nodes a client uses,
//! and how many of their slots.

use super::NodeInfo;

/// A rule that decides whether a client uses a node, and how many of its slots.
///
/// A client with no rules uses every node with all its slots. A client with rules uses
/// a node by the first rule whose address pattern (and platform, if given) matches it;
/// a node that no rule matches is not used (pycos appends a catch-all `*` rule; add
/// `NodeAllocation::new("*")` last for that).
///
/// ```
/// use rcos::cluster::NodeAllocation;
/// // Nodes on 192.168.1.*, with at least 1 GiB of free memory, two slots each.
/// let rule = NodeAllocation::new("192.168.1.*").min_memory(1 << 30).slots(2);
/// # let _ = rule;
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeAllocation {
    pattern: String,
    platform: Option<String>,
    min_memory: Option<u64>,
    min_disk: Option<u64>,
    slots: i32,
}

impl NodeAllocation {
    /// A rule for nodes whose IP address, `address:port` or name matches `pattern`,
    /// where `*` stands for any run of characters (`"127.0.0.*"`, `"*"`).
    pub fn new(pattern: impl Into<String>) -> NodeAllocation {
        NodeAllocation {
            pattern: pattern.into(),
            platform: None,
            min_memory: None,
            min_disk: None,
            slots: 0,
        }
    }

    /// Matches only nodes whose platform (e.g. `linux x86_64`) contains `text`.
    pub fn platform(mut self, text: impl Into<String>) -> Self {
        self.platform = Some(text.into());
        self
    }

    /// Refuses matching nodes with less available memory than `bytes` (or where it is
    /// unknown).
    pub fn min_memory(mut self, bytes: u64) -> Self {
        self.min_memory = Some(bytes);
        self
    }

    /// Refuses matching nodes with less free disk than `bytes` (or where it is unknown).
    pub fn min_disk(mut self, bytes: u64) -> Self {
        self.min_disk = Some(bytes);
        self
    }

    /// Slots to use: `n > 0` uses at most `n`; `n < 0` leaves `-n` free; 0 (the
    /// default) uses all.
    pub fn slots(mut self, n: i32) -> Self {
        self.slots = n;
        self
    }

    fn matches(&self, info: &NodeInfo) -> bool {
        let ip = info.location.addr().ip().to_string();
        let location = info.location.to_string();
        let address_ok = [ip.as_str(), location.as_str(), info.name.as_str()]
            .iter()
            .any(|text| glob(&self.pattern, text));
        let platform_ok = self
            .platform
            .as_ref()
            .is_none_or(|p| info.platform.contains(p.as_str()));
        address_ok && platform_ok
    }

    fn slots_for(&self, info: &NodeInfo) -> Result<u32, String> {
        let need = |what: &str, have: Option<u64>, min: Option<u64>| match (min, have) {
            (Some(min), Some(have)) if have < min => Err(format!(
                "{what}: {have} bytes available, {min} bytes required"
            )),
            (Some(min), None) => Err(format!("{what}: unknown, {min} bytes required")),
            _ => Ok(()),
        };
        need("memory", info.avail.memory_available, self.min_memory)?;
        need("disk", info.avail.disk_available, self.min_disk)?;
        let slots = match self.slots {
            n if n > 0 => n.unsigned_abs().min(info.cpus),
            0 => info.cpus,
            n => info.cpus.saturating_sub(n.unsigned_abs()),
        };
        if slots == 0 {
            return Err("the allocation rule leaves it no slots".to_string());
        }
        Ok(slots)
    }
}

/// The slots to use on the node `info` describes, or why it is not used.
pub(crate) fn allocate(rules: &[NodeAllocation], info: &NodeInfo) -> Result<u32, String> {
    if rules.is_empty() {
        return if info.cpus == 0 {
            Err("it offers no slots".to_string())
        } else {
            Ok(info.cpus)
        };
    }
    match rules.iter().find(|rule| rule.matches(info)) {
        Some(rule) => rule.slots_for(info),
        None => Err("it matches no allocation rule".to_string()),
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = text.strip_prefix(first) else {
        return false;
    };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::NodeAvail;

    fn info(addr: &str, cpus: u32, memory: Option<u64>) -> NodeInfo {
        NodeInfo {
            name: "n1".into(),
            location: addr.parse().unwrap(),
            cpus,
            slots: 0,
            platform: "linux x86_64".into(),
            avail: NodeAvail {
                memory_available: memory,
                ..NodeAvail::default()
            },
        }
    }

    #[test]
    fn globs() {
        assert!(glob("*", "anything"));
        assert!(glob("127.0.0.*", "127.0.0.1"));
        assert!(!glob("127.0.0.*", "10.0.0.1"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abcd"));
        assert!(glob("exact", "exact"));
        assert!(!glob("exact", "exactly"));
    }

    #[test]
    fn rules_pick_slots_or_refuse() {
        let node = info("127.0.0.1:9000", 4, Some(1000));
        assert_eq!(allocate(&[], &node), Ok(4));
        let rules = [
            NodeAllocation::new("10.*"),
            NodeAllocation::new("127.*").slots(-1),
        ];
        assert_eq!(allocate(&rules, &node), Ok(3));
        assert!(allocate(&[NodeAllocation::new("10.*")], &node).is_err());
        let greedy = [NodeAllocation::new("*").min_memory(2000)];
        assert!(allocate(&greedy, &node).unwrap_err().contains("memory"));
        assert_eq!(
            allocate(&[NodeAllocation::new("n1").slots(9)], &node),
            Ok(4)
        );
    }
}

//! What `decide` may look up: surfaces and operator profiles, read-only and in memory (no
//! I/O).

use std::collections::BTreeMap;

use crate::spine::operator::OperatorProfile;
use crate::surface::Surface;
use crate::surface::ast::Status;

/// What `decide` may look up: compiled surfaces and operator profiles. The registry
/// implements it (with no profiles); so does a single [`Surface`] (handy in tests and
/// benches). [`WithProfiles`] adds profiles to any catalog: the engine hands `decide` the
/// registry with the profiles it loaded for the command.
pub trait Catalog {
    /// The highest version of `slug`, whatever its status.
    fn latest(&self, slug: &str) -> Option<&Surface>;
    /// The highest `active` version of `slug`: what new requests are submitted under.
    fn latest_active(&self, slug: &str) -> Option<&Surface>;
    /// Exactly `slug@version`: what a pinned case is judged by.
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface>;
    /// The profile of `operator`, when the catalog holds it. `None` means "not registered" to
    /// `decide`, so a catalog must hold every profile
    /// [`crate::spine::operator::profiles_to_load`] names for the command judged.
    fn profile(&self, operator: &str) -> Option<&OperatorProfile> {
        let _ = operator;
        None
    }
}

/// A catalog with operator profiles: the surfaces of `surfaces`, and `profiles` by operator
/// id.
#[derive(Clone, Debug, Default)]
pub struct WithProfiles<C> {
    /// The surfaces.
    pub surfaces: C,
    /// The profiles, by operator id.
    pub profiles: BTreeMap<String, OperatorProfile>,
}

impl<C> WithProfiles<C> {
    /// `surfaces` with no profile yet.
    pub fn new(surfaces: C) -> Self {
        WithProfiles {
            surfaces,
            profiles: BTreeMap::new(),
        }
    }

    /// Add (or replace) a profile.
    pub fn with(mut self, profile: OperatorProfile) -> Self {
        self.profiles.insert(profile.id.clone(), profile);
        self
    }
}

impl<C: Catalog> Catalog for WithProfiles<C> {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        self.surfaces.latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        self.surfaces.latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        self.surfaces.exact(slug, version)
    }
    fn profile(&self, operator: &str) -> Option<&OperatorProfile> {
        self.profiles
            .get(operator)
            .or_else(|| self.surfaces.profile(operator))
    }
}

impl Catalog for Surface {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        (self.slug() == slug).then_some(self)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        (self.slug() == slug && self.status() == Status::Active).then_some(self)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        (self.slug() == slug && self.version() == version).then_some(self)
    }
}

impl<T: Catalog + ?Sized> Catalog for &T {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        (**self).latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        (**self).latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        (**self).exact(slug, version)
    }
    fn profile(&self, operator: &str) -> Option<&OperatorProfile> {
        (**self).profile(operator)
    }
}

impl<T: Catalog + ?Sized> Catalog for std::sync::Arc<T> {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        (**self).latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        (**self).latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        (**self).exact(slug, version)
    }
    fn profile(&self, operator: &str) -> Option<&OperatorProfile> {
        (**self).profile(operator)
    }
}

/// A plain list of surfaces is a catalog too (what tests and small hosts use).
impl Catalog for [Surface] {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        self.iter()
            .filter(|s| s.slug() == slug)
            .max_by_key(|s| s.version())
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        self.iter()
            .filter(|s| s.slug() == slug && s.status() == Status::Active)
            .max_by_key(|s| s.version())
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        self.iter()
            .find(|s| s.slug() == slug && s.version() == version)
    }
}

impl Catalog for Vec<Surface> {
    fn latest(&self, slug: &str) -> Option<&Surface> {
        self.as_slice().latest(slug)
    }
    fn latest_active(&self, slug: &str) -> Option<&Surface> {
        self.as_slice().latest_active(slug)
    }
    fn exact(&self, slug: &str, version: u32) -> Option<&Surface> {
        self.as_slice().exact(slug, version)
    }
}

//! The outside crates' types the public API exposes, listed in `external-types.txt` at the
//! crate's root (as smithy-rs's crates pin theirs in `external-types.toml`): a new one — a
//! signature that starts taking or returning another crate's type, a public type that starts
//! implementing another crate's trait — fails this test until the list says so, so that it is
//! a decision, not an accident.
//!
//! Read from the source with `syn`, every feature's items included: each `pub` item (a `pub`
//! in a private module is refused by `unreachable_pub`, so every `pub` is public), its
//! signature's type paths resolved through the file's `use` lines, and the traits implemented
//! for public types.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use syn::visit::Visit;

/// Paths that are this crate's, or the standard library's: not outside types.
const OWN: &[&str] = &["crate", "self", "super", "Self", "std", "core", "alloc"];

#[test]
fn the_public_api_exposes_only_the_listed_outside_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<syn::File> = rust_files(&root.join("src"))
        .iter()
        .map(|file| {
            let text = std::fs::read_to_string(file).unwrap();
            syn::parse_file(&text).unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        })
        .collect();
    let public_types: BTreeSet<String> = files.iter().flat_map(public_type_names).collect();
    let mut found = BTreeSet::new();
    for syntax in &files {
        let mut public = PublicTypes {
            imports: imports(syntax),
            dependencies: dependencies(root),
            public_types: &public_types,
            found: BTreeSet::new(),
        };
        public.visit_file(syntax);
        found.extend(public.found);
    }
    let listed: BTreeSet<String> = std::fs::read_to_string(root.join("external-types.txt"))
        .unwrap()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_owned)
        .collect();
    let new: Vec<&String> = found.difference(&listed).collect();
    let gone: Vec<&String> = listed.difference(&found).collect();
    assert!(
        new.is_empty() && gone.is_empty(),
        "the public API's outside types changed; if that is meant, update external-types.txt\n\
         new: {new:#?}\nno longer exposed: {gone:#?}"
    );
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// The names of a file's public types: an outside trait implemented for one of them is API.
fn public_type_names(file: &syn::File) -> Vec<String> {
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Struct(s) if is_pub(&s.vis) => Some(s.ident.to_string()),
            syn::Item::Enum(e) if is_pub(&e.vis) => Some(e.ident.to_string()),
            _ => None,
        })
        .collect()
}

/// The names a file's `use` lines bring in, with the paths they stand for.
fn imports(file: &syn::File) -> HashMap<String, String> {
    let mut names = HashMap::new();
    for item in &file.items {
        if let syn::Item::Use(item) = item {
            collect_use(&item.tree, String::new(), &mut names);
        }
    }
    names
}

fn collect_use(tree: &syn::UseTree, prefix: String, names: &mut HashMap<String, String>) {
    let joined = |name: &str| {
        if prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{prefix}::{name}")
        }
    };
    match tree {
        syn::UseTree::Path(path) => collect_use(&path.tree, joined(&path.ident.to_string()), names),
        syn::UseTree::Name(name) => {
            let name = name.ident.to_string();
            let full = if name == "self" {
                prefix.clone()
            } else {
                joined(&name)
            };
            let short = full.rsplit("::").next().unwrap_or(&full).to_owned();
            names.insert(short, full);
        }
        syn::UseTree::Rename(rename) => {
            names.insert(rename.rename.to_string(), joined(&rename.ident.to_string()));
        }
        syn::UseTree::Group(group) => {
            for tree in &group.items {
                collect_use(tree, prefix.clone(), names);
            }
        }
        syn::UseTree::Glob(_) => {}
    }
}

/// The crates the library depends on (their names as paths write them), from its manifest.
fn dependencies(root: &Path) -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let mut names = BTreeSet::new();
    let mut inside = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line.ends_with("dependencies]") && !line.contains("dev-dependencies");
            continue;
        }
        if let Some((name, _)) = line.split_once('=').filter(|_| inside) {
            names.insert(name.trim().replace('-', "_"));
        }
    }
    names
}

/// Collects the outside types of one file's public items.
struct PublicTypes<'p> {
    imports: HashMap<String, String>,
    dependencies: BTreeSet<String>,
    public_types: &'p BTreeSet<String>,
    found: BTreeSet<String>,
}

impl PublicTypes<'_> {
    /// The outside types `node`'s type paths name.
    fn types_in<'a, T: ?Sized>(&mut self, node: &'a T, visit: fn(&mut TypePaths, &'a T)) {
        let mut paths = TypePaths::default();
        visit(&mut paths, node);
        for path in paths.0 {
            if let Some(outside) = self.outside(&path) {
                self.found.insert(outside);
            }
        }
    }

    /// `path` written out from its crate, if that crate is not this one or `std`.
    fn outside(&self, path: &syn::Path) -> Option<String> {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        let first = segments.first()?;
        let full = match self.imports.get(first) {
            Some(imported) => std::iter::once(imported.clone())
                .chain(segments[1..].iter().cloned())
                .collect::<Vec<_>>()
                .join("::"),
            None if segments.len() > 1 => segments.join("::"),
            // A name defined here, a generic parameter or a prelude type.
            None => return None,
        };
        let krate = full.split("::").next()?;
        (!OWN.contains(&krate) && self.dependencies.contains(krate)).then_some(full)
    }
}

fn is_pub(vis: &syn::Visibility) -> bool {
    matches!(vis, syn::Visibility::Public(_))
}

impl<'ast> Visit<'ast> for PublicTypes<'_> {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        if is_pub(&item.vis) {
            self.types_in(&item.sig, TypePaths::visit_signature);
        }
    }

    fn visit_item_struct(&mut self, item: &'ast syn::ItemStruct) {
        if is_pub(&item.vis) {
            for field in item.fields.iter().filter(|f| is_pub(&f.vis)) {
                self.types_in(&field.ty, TypePaths::visit_type);
            }
        }
    }

    fn visit_item_enum(&mut self, item: &'ast syn::ItemEnum) {
        if is_pub(&item.vis) {
            for variant in &item.variants {
                self.types_in(&variant.fields, TypePaths::visit_fields);
            }
        }
    }

    fn visit_item_type(&mut self, item: &'ast syn::ItemType) {
        if is_pub(&item.vis) {
            self.types_in(&*item.ty, TypePaths::visit_type);
        }
    }

    fn visit_item_const(&mut self, item: &'ast syn::ItemConst) {
        if is_pub(&item.vis) {
            self.types_in(&*item.ty, TypePaths::visit_type);
        }
    }

    fn visit_item_trait(&mut self, item: &'ast syn::ItemTrait) {
        if is_pub(&item.vis) {
            for bound in &item.supertraits {
                self.types_in(bound, TypePaths::visit_type_param_bound);
            }
            for inner in &item.items {
                if let syn::TraitItem::Fn(method) = inner {
                    self.types_in(&method.sig, TypePaths::visit_signature);
                }
            }
        }
    }

    fn visit_item_impl(&mut self, item: &'ast syn::ItemImpl) {
        // An outside trait implemented for a public type is part of the API.
        if let Some((_, trait_path, _)) = &item.trait_ {
            let for_public = match &*item.self_ty {
                syn::Type::Path(ty) => ty
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| self.public_types.contains(&s.ident.to_string())),
                _ => false,
            };
            if let Some(outside) = self.outside(trait_path).filter(|_| for_public) {
                self.found.insert(outside);
            }
            return;
        }
        for inner in &item.items {
            if let syn::ImplItem::Fn(method) = inner
                && is_pub(&method.vis)
            {
                self.types_in(&method.sig, TypePaths::visit_signature);
            }
        }
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        // Inline modules are test modules here: not API.
        let _ = item;
    }
}

/// Every type path under a node, generic arguments included.
#[derive(Default)]
struct TypePaths(Vec<syn::Path>);

impl<'ast> Visit<'ast> for TypePaths {
    fn visit_path(&mut self, path: &'ast syn::Path) {
        self.0.push(path.clone());
        syn::visit::visit_path(self, path);
    }

    fn visit_block(&mut self, _: &'ast syn::Block) {}
}

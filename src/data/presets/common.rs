//! What every preset shares: the [`Preset`] trait each preset file
//! implements, its object-safe face [`DynPreset`] (what the one list in
//! `presets/mod.rs` holds), the parsed `dataset: {preset: ...}` block
//! ([`PresetSpec`]) and the [`Folder`] a preset reads.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, Visitor};
use serde::{Deserialize, Serialize};

use crate::data::encode::Layout;
use crate::data::error::{DataError, MissingPresetFile};
use crate::data::spec::{
    data_dir, resolve_path, NumericTransform, SplitSpec, TimeType, DEFAULT_BUCKETS,
};
use crate::data::types::{Dataset, Task, TaskChain, TaskKind};

/// A registered real data set. One implementation per file in `presets/`,
/// plus one line in the list [`super::ALL`].
pub trait Preset: Send + Sync + 'static {
    /// The preset's own YAML keys (besides the generic `path:`, `name:`,
    /// `split:`, `numeric_transform:`, `buckets:`), as a struct with
    /// `#[serde(deny_unknown_fields)]` whose fields are all optional;
    /// [`NoOptions`] when it has none.
    type Options: Serialize + DeserializeOwned + Clone + fmt::Debug;

    /// The YAML `preset:` value.
    fn name(&self) -> &'static str;
    /// Folder under `$HTL_DATA_DIR` used when `path:` is not given.
    fn default_folder(&self) -> &'static str;
    /// The official download page, quoted in missing-file errors.
    fn download_page(&self) -> &'static str;
    /// The files the preset reads, for messages.
    fn expected_files(&self) -> &'static str;
    /// The task chain: (name, kind) in chain order.
    fn chain(&self) -> &'static [(&'static str, TaskKind)];
    /// Checks the options beyond their types (ranges, dates ...).
    fn validate(&self, _options: &Self::Options) -> Result<(), DataError> {
        Ok(())
    }
    /// The files the preset will read in `folder`, each checked to exist.
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError>;
    /// Reads, splits and encodes the data set.
    fn load(
        &self,
        spec: &PresetSpec,
        options: &Self::Options,
        folder: &Folder,
        name: String,
    ) -> Result<Dataset, DataError>;
    /// Extra advice for a missing file, after "does not exist" (e.g. `; the
    /// folder holds country folders ...`); None for none.
    fn missing_hint(&self, _folder: &Folder) -> Option<String> {
        None
    }
}

/// The options of a preset without options of its own.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoOptions {}

/// A YAML mapping of a preset's own keys, in canonical form (as its typed
/// options serialise: unset keys absent).
pub type OptionMap = serde_json::Map<String, serde_json::Value>;

/// The object-safe face of a [`Preset`], implemented for every preset.
pub trait DynPreset: Send + Sync {
    /// The YAML `preset:` value.
    fn name(&self) -> &'static str;
    /// Folder under `$HTL_DATA_DIR` used when `path:` is not given.
    fn default_folder(&self) -> &'static str;
    /// The official download page.
    fn download_page(&self) -> &'static str;
    /// The files the preset reads, for messages.
    fn expected_files(&self) -> &'static str;
    /// The task chain.
    fn task_chain(&self) -> Result<TaskChain, DataError>;
    /// The preset's own YAML keys (the fields of its options struct).
    fn option_keys(&self) -> &'static [&'static str];
    /// Parses and validates the preset's own keys; returns them in canonical form.
    fn check_options(&self, options: OptionMap) -> Result<OptionMap, DataError>;
    /// The files it reads in `folder`, each checked to exist.
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError>;
    /// Loads the data set of `spec` from `folder`.
    fn load(&self, spec: &PresetSpec, folder: &Folder, name: String) -> Result<Dataset, DataError>;
    /// Extra advice for a missing file.
    fn missing_hint(&self, folder: &Folder) -> Option<String>;
}

impl<P: Preset> DynPreset for P {
    fn name(&self) -> &'static str {
        Preset::name(self)
    }
    fn default_folder(&self) -> &'static str {
        Preset::default_folder(self)
    }
    fn download_page(&self) -> &'static str {
        Preset::download_page(self)
    }
    fn expected_files(&self) -> &'static str {
        Preset::expected_files(self)
    }
    fn task_chain(&self) -> Result<TaskChain, DataError> {
        TaskChain::new(
            self.chain()
                .iter()
                .map(|(name, kind)| Task {
                    name: (*name).into(),
                    kind: *kind,
                })
                .collect(),
        )
    }
    fn option_keys(&self) -> &'static [&'static str] {
        struct_fields::<P::Options>()
    }
    fn check_options(&self, options: OptionMap) -> Result<OptionMap, DataError> {
        let typed = typed_options::<P>(self, options)?;
        Preset::validate(self, &typed)?;
        match serde_json::to_value(&typed) {
            Ok(serde_json::Value::Object(m)) => Ok(m),
            Ok(_) => Ok(OptionMap::new()),
            Err(e) => Err(DataError::InvalidSpec(e.to_string())),
        }
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        Preset::source_files(self, folder)
    }
    fn load(&self, spec: &PresetSpec, folder: &Folder, name: String) -> Result<Dataset, DataError> {
        let typed = typed_options::<P>(self, spec.options.clone())?;
        Preset::validate(self, &typed)?;
        Preset::load(self, spec, &typed, folder, name)
    }
    fn missing_hint(&self, folder: &Folder) -> Option<String> {
        Preset::missing_hint(self, folder)
    }
}

fn typed_options<P: Preset>(_: &P, options: OptionMap) -> Result<P::Options, DataError> {
    serde_json::from_value(serde_json::Value::Object(options))
        .map_err(|e| DataError::InvalidSpec(e.to_string()))
}

/// A registered preset: a handle on one entry of [`super::ALL`]. Compares,
/// prints and serialises as its YAML name.
#[derive(Clone, Copy)]
pub struct PresetRef(pub &'static dyn DynPreset);

impl std::ops::Deref for PresetRef {
    type Target = dyn DynPreset;
    fn deref(&self) -> &Self::Target {
        self.0
    }
}

impl PartialEq for PresetRef {
    fn eq(&self, other: &Self) -> bool {
        self.0.name() == other.0.name()
    }
}

impl Eq for PresetRef {}

impl fmt::Debug for PresetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

impl fmt::Display for PresetRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.name())
    }
}

/// `dataset: {preset: ...}`: a registered data set plus its options.
#[derive(Debug, Clone, PartialEq)]
pub struct PresetSpec {
    /// Which data set.
    pub preset: PresetRef,
    /// Name for tables (default: the preset name).
    pub name: Option<String>,
    /// Folder of the release's files (default `$HTL_DATA_DIR/<default folder>`).
    pub path: Option<PathBuf>,
    /// Ratios and seed of the split (how they are used depends on the preset).
    pub split: SplitSpec,
    /// How numeric features are encoded.
    pub numeric_transform: NumericTransform,
    /// Buckets per numeric feature under bucketize.
    pub buckets: usize,
    /// The preset's own keys, validated and in canonical form (see [`DynPreset::check_options`]).
    pub options: OptionMap,
}

impl PresetSpec {
    /// The preset with default options.
    pub fn new(preset: PresetRef) -> Self {
        PresetSpec {
            preset,
            name: None,
            path: None,
            split: SplitSpec::default(),
            numeric_transform: NumericTransform::Standardize,
            buckets: DEFAULT_BUCKETS,
            options: OptionMap::new(),
        }
    }

    /// The preset with default options and `path:`.
    pub fn at(preset: PresetRef, path: impl Into<PathBuf>) -> Self {
        PresetSpec {
            path: Some(path.into()),
            ..PresetSpec::new(preset)
        }
    }

    /// Sets the preset's own options from their typed form (validated).
    pub fn with_options(mut self, options: &impl Serialize) -> Result<Self, DataError> {
        let map = match serde_json::to_value(options) {
            Ok(serde_json::Value::Object(m)) => m,
            Ok(_) => OptionMap::new(),
            Err(e) => return Err(DataError::InvalidSpec(e.to_string())),
        };
        self.options = self.preset.check_options(map)?;
        Ok(self)
    }

    /// The folder holding the files, and whether it is the default one.
    pub fn folder(&self, base_dir: &Path) -> Folder {
        match &self.path {
            Some(p) => Folder {
                preset: self.preset,
                dir: resolve_path(p, base_dir),
                defaulted: false,
            },
            None => Folder {
                preset: self.preset,
                dir: data_dir().join(self.preset.default_folder()),
                defaulted: true,
            },
        }
    }

    /// A [`Layout`] over the given feature columns and the preset's chain
    /// (label column = task name), with this spec's encoding and split; the
    /// caller sets a time column or a given split.
    pub fn layout(
        &self,
        source: String,
        categorical: &[String],
        numeric: &[String],
    ) -> Result<Layout, DataError> {
        Ok(Layout {
            source,
            categorical: categorical.to_vec(),
            numeric: numeric.to_vec(),
            transform: self.numeric_transform,
            buckets: self.buckets,
            tasks: self
                .preset
                .task_chain()?
                .tasks()
                .iter()
                .map(|t| (t.clone(), t.name.clone()))
                .collect(),
            time: None,
            time_type: TimeType::Auto,
            split: self.split.clone(),
            given: None,
        })
    }
}

/// The folder a preset reads, with the helpers that find its files.
#[derive(Debug, Clone)]
pub struct Folder {
    /// Which preset.
    pub preset: PresetRef,
    /// The folder.
    pub dir: PathBuf,
    /// True when `path:` was not given.
    pub defaulted: bool,
}

impl Folder {
    /// `dir/name`, which must exist.
    pub fn file(&self, name: &str) -> Result<PathBuf, DataError> {
        let p = self.dir.join(name);
        if p.is_file() {
            Ok(p)
        } else {
            Err(self.missing(name))
        }
    }

    /// The first of `names` that exists in the folder (the error names the first).
    pub fn first_of(&self, names: &[&str]) -> Result<PathBuf, DataError> {
        names
            .iter()
            .map(|n| self.dir.join(n))
            .find(|p| p.is_file())
            .ok_or_else(|| self.missing(names.first().copied().unwrap_or_default()))
    }

    /// The missing-file error for `name` in this folder.
    pub fn missing(&self, name: &str) -> DataError {
        let path = self.dir.join(name);
        let mut hint = String::new();
        for ext in ["gz", "zip", "7z", "tar.gz"] {
            let packed = self.dir.join(format!("{name}.{ext}"));
            if packed.is_file() {
                let how = match ext {
                    "gz" => format!("gunzip -k {name}.gz"),
                    "zip" => format!("unzip {name}.zip"),
                    "7z" => format!("7z x {name}.7z"),
                    _ => format!("tar xzf {name}.tar.gz"),
                };
                hint = format!(
                    "; found \"{}\": decompress it first ({how})",
                    packed.display()
                );
                break;
            }
        }
        if hint.is_empty() && !self.dir.exists() {
            hint = " (nor does its folder)".into();
        }
        if hint.is_empty() {
            hint = self.preset.missing_hint(self).unwrap_or_default();
        }
        DataError::PresetFileNotFound(Box::new(MissingPresetFile {
            preset: self.preset.name().into(),
            path,
            dir: self.dir.clone(),
            expected: self.preset.expected_files().into(),
            default_note: if self.defaulted {
                format!(
                    ", the default $HTL_DATA_DIR/{}; set `path:` or HTL_DATA_DIR",
                    self.preset.default_folder()
                )
            } else {
                String::new()
            },
            hint,
            download: self.preset.download_page().into(),
        }))
    }
}

/// The field names of struct `T` as its `Deserialize` implementation knows
/// them (so a preset's option keys are read off its options struct, not
/// listed twice).
pub fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(FieldCatcher(&mut fields));
    fields
}

/// A deserializer that only records the field list of the struct asked for.
struct FieldCatcher<'a>(&'a mut &'static [&'static str]);

#[derive(Debug)]
struct Caught;

impl fmt::Display for Caught {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("field list recorded")
    }
}

impl std::error::Error for Caught {}

impl serde::de::Error for Caught {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Caught
    }
}

impl<'de> serde::Deserializer<'de> for FieldCatcher<'_> {
    type Error = Caught;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Caught> {
        Err(Caught)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Caught> {
        *self.0 = fields;
        Err(Caught)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map enum identifier ignored_any
    }
}

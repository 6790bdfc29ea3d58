//! `kuairand_pure`: KuaiRand-Pure (Gao et al., CIKM 2022), the standard
//! recommendation logs of the 7,583 candidate videos.
//!
//! Files in `path:` (the release's `data/` folder; `path:` may also be the
//! release root that contains `data/`):
//!
//! * `log_standard_4_08_to_4_21_pure.csv` and `log_standard_4_22_to_5_08_pure.csv`,
//!   stacked in that order. Columns of the release: user_id, video_id, date,
//!   hourmin, time_ms, is_click, is_like, is_follow, is_comment, is_forward,
//!   is_hate, long_view, play_time_ms, duration_ms, profile_stay_time,
//!   comment_stay_time, is_profile_enter, is_rand, tab. The random-exposure
//!   log (`log_random_...`) is not used.
//! * `user_features_pure.csv`, joined on `user_id`: user_id,
//!   user_active_degree, is_lowactive_period, is_live_streamer,
//!   is_video_author, follow_user_num, follow_user_num_range, fans_user_num,
//!   fans_user_num_range, friend_user_num, friend_user_num_range,
//!   register_days, register_days_range, onehot_feat0..onehot_feat17.
//! * `video_features_basic_pure.csv`, joined on `video_id`: video_id,
//!   author_id, video_type, upload_dt, upload_type, visible_status,
//!   video_duration, server_width, server_height, music_id, music_type, tag.
//!
//! A log row whose user or video is absent from the feature files keeps
//! missing features (code 0). Only the first row of a repeated id is used.
//!
//! Features (no outcome of the impression is a feature):
//!
//! * Categorical (39): user_id, video_id, author_id, music_id, tab, hourmin,
//!   user_active_degree, is_lowactive_period, is_live_streamer,
//!   is_video_author, the four `*_range` columns, onehot_feat0..17,
//!   video_type, upload_type, visible_status, server_width, server_height,
//!   music_type, tag (the whole tag list as one category).
//! * Numeric (5): `log1p_follow_user_num`, `log1p_fans_user_num`,
//!   `log1p_friend_user_num`, `log1p_register_days` (ln(1 + x) of the user
//!   counts), `log1p_duration_s` (ln(1 + duration_ms / 1000) of the log row).
//!
//! Chain: `is_click → long_view → play_time`, with play_time =
//! `play_time_ms` / 1000 seconds, clipped at `clip_seconds` when given. The
//! labels are taken as released: play time is often positive without a long
//! view (`htl data inspect` counts such rows).
//!
//! Split: by time, 8:1:1 on `time_ms` (ties keep file order); `split.ratios`
//! overrides the ratios.

use std::path::PathBuf;

use polars::prelude::*;

use serde::{Deserialize, Serialize};

use super::common::{Folder, Preset, PresetSpec};
use crate::data::csvread::{self, Col, Ty};
use crate::data::encode::{self, Layout};
use crate::data::error::{DataError, Role};
use crate::data::io::read_err;
use crate::data::types::{Dataset, TaskKind};

/// The `kuairand_pure` preset.
pub struct KuairandPure;

/// `kuairand_pure`'s own keys.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KuairandOptions {
    /// `clip_seconds:`: clip play time at this many seconds (default: no clipping).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clip_seconds: Option<f64>,
}

impl Preset for KuairandPure {
    type Options = KuairandOptions;

    fn name(&self) -> &'static str {
        "kuairand_pure"
    }
    fn default_folder(&self) -> &'static str {
        "KuaiRand-Pure"
    }
    fn download_page(&self) -> &'static str {
        "https://kuairand.com (files: https://zenodo.org/records/10439422, KuaiRand-Pure)"
    }
    fn expected_files(&self) -> &'static str {
        "log_standard_4_08_to_4_21_pure.csv, log_standard_4_22_to_5_08_pure.csv, user_features_pure.csv and video_features_basic_pure.csv (the release's data/ folder)"
    }
    fn chain(&self) -> &'static [(&'static str, TaskKind)] {
        &[
            ("is_click", TaskKind::Binary),
            ("long_view", TaskKind::Binary),
            ("play_time", TaskKind::Regression),
        ]
    }
    fn validate(&self, options: &KuairandOptions) -> Result<(), DataError> {
        match options.clip_seconds {
            Some(c) if !(c.is_finite() && c > 0.0) => Err(DataError::InvalidSpec(format!(
                "`clip_seconds: {c}` is invalid; give a positive number of seconds"
            ))),
            _ => Ok(()),
        }
    }
    fn source_files(&self, folder: &Folder) -> Result<Vec<PathBuf>, DataError> {
        Ok(Files::find(folder)?.all())
    }
    fn load(
        &self,
        spec: &PresetSpec,
        options: &KuairandOptions,
        folder: &Folder,
        name: String,
    ) -> Result<Dataset, DataError> {
        let (df, layout) = frame(spec, options, folder)?;
        encode::encode_owned(df, &layout, name)
    }
}

/// The two standard logs, in stacking order.
pub const LOGS: [&str; 2] = [
    "log_standard_4_08_to_4_21_pure.csv",
    "log_standard_4_22_to_5_08_pure.csv",
];
/// User features file.
pub const USERS: &str = "user_features_pure.csv";
/// Video features file.
pub const VIDEOS: &str = "video_features_basic_pure.csv";

/// The release files, found.
#[derive(Debug, Clone)]
pub struct Files {
    /// The standard logs, in order.
    pub logs: [PathBuf; 2],
    /// `user_features_pure.csv`.
    pub users: PathBuf,
    /// `video_features_basic_pure.csv`.
    pub videos: PathBuf,
}

impl Files {
    /// Finds the files in `folder` (or in its `data/` subfolder).
    pub fn find(folder: &Folder) -> Result<Files, DataError> {
        let mut folder = folder.clone();
        let sub = folder.dir.join("data");
        if !folder.dir.join(LOGS[0]).is_file() && sub.join(LOGS[0]).is_file() {
            folder.dir = sub;
        }
        Ok(Files {
            logs: [folder.file(LOGS[0])?, folder.file(LOGS[1])?],
            users: folder.file(USERS)?,
            videos: folder.file(VIDEOS)?,
        })
    }

    /// Every file, in reading order.
    pub fn all(&self) -> Vec<PathBuf> {
        vec![
            self.logs[0].clone(),
            self.logs[1].clone(),
            self.users.clone(),
            self.videos.clone(),
        ]
    }
}

fn user_cats() -> Vec<(String, Ty)> {
    let mut v: Vec<(String, Ty)> = vec![
        ("user_active_degree".into(), Ty::Text),
        ("is_lowactive_period".into(), Ty::Int),
        ("is_live_streamer".into(), Ty::Int),
        ("is_video_author".into(), Ty::Int),
        ("follow_user_num_range".into(), Ty::Text),
        ("fans_user_num_range".into(), Ty::Text),
        ("friend_user_num_range".into(), Ty::Text),
        ("register_days_range".into(), Ty::Text),
    ];
    v.extend((0..18).map(|i| (format!("onehot_feat{i}"), Ty::Int)));
    v
}

const USER_COUNTS: [&str; 4] = [
    "follow_user_num",
    "fans_user_num",
    "friend_user_num",
    "register_days",
];

const VIDEO_CATS: [(&str, Ty); 9] = [
    ("author_id", Ty::Int),
    ("music_id", Ty::Int),
    ("video_type", Ty::Text),
    ("upload_type", Ty::Text),
    ("visible_status", Ty::Int),
    ("server_width", Ty::Int),
    ("server_height", Ty::Int),
    ("music_type", Ty::Int),
    ("tag", Ty::Text),
];

/// Categorical feature columns, in field order.
pub fn categorical() -> Vec<String> {
    let mut v: Vec<String> = [
        "user_id",
        "video_id",
        "author_id",
        "music_id",
        "tab",
        "hourmin",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    v.extend(user_cats().into_iter().map(|(c, _)| c));
    v.extend(
        VIDEO_CATS
            .iter()
            .filter(|(c, _)| *c != "author_id" && *c != "music_id")
            .map(|(c, _)| c.to_string()),
    );
    v
}

/// Numeric feature columns, in field order.
pub fn numeric() -> Vec<String> {
    let mut v: Vec<String> = USER_COUNTS.iter().map(|c| format!("log1p_{c}")).collect();
    v.push("log1p_duration_s".into());
    v
}

fn log_cols() -> Vec<Col> {
    vec![
        Col::new("user_id", Role::Key, Ty::Int),
        Col::new("video_id", Role::Key, Ty::Int),
        Col::new("hourmin", Role::Categorical, Ty::Int),
        Col::new("time_ms", Role::Time, Ty::Int),
        Col::new("is_click", Role::Task("is_click".into()), Ty::Int),
        Col::new("long_view", Role::Task("long_view".into()), Ty::Int),
        Col::new("play_time_ms", Role::Task("play_time".into()), Ty::Float),
        Col::new("duration_ms", Role::Source, Ty::Float),
        Col::new("tab", Role::Categorical, Ty::Int),
    ]
}

/// The joined table (logs in file order, with the derived columns) and its
/// layout, before encoding.
pub fn frame(
    spec: &PresetSpec,
    options: &KuairandOptions,
    folder: &Folder,
) -> Result<(DataFrame, Layout), DataError> {
    let files = Files::find(folder)?;
    let preset = KuairandPure.name();
    let logs = files
        .logs
        .iter()
        .map(|p| csvread::read(p, &log_cols(), preset))
        .collect::<Result<Vec<_>, _>>()?;
    let mut df = csvread::stack(logs, &files.logs[0])?;
    let n = df.height();

    // Users.
    let mut ucols = vec![Col::new("user_id", Role::Key, Ty::Int)];
    ucols.extend(
        user_cats()
            .into_iter()
            .map(|(c, ty)| Col::new(c, Role::Categorical, ty)),
    );
    ucols.extend(
        USER_COUNTS
            .iter()
            .map(|c| Col::new(*c, Role::Source, Ty::Float)),
    );
    let users = csvread::read(&files.users, &ucols, preset)?;
    let uidx = join_index(&df, &users, "user_id", &files.users)?;
    let ujoined = users
        .drop("user_id")
        .and_then(|u| u.take(&uidx))
        .map_err(|e| read_err(&files.users, e))?;

    // Videos.
    let mut vcols = vec![Col::new("video_id", Role::Key, Ty::Int)];
    vcols.extend(
        VIDEO_CATS
            .iter()
            .map(|(c, ty)| Col::new(*c, Role::Categorical, *ty)),
    );
    let videos = csvread::read(&files.videos, &vcols, preset)?;
    let vidx = join_index(&df, &videos, "video_id", &files.videos)?;
    let vjoined = videos
        .drop("video_id")
        .and_then(|v| v.take(&vidx))
        .map_err(|e| read_err(&files.videos, e))?;

    // Derived columns.
    let err = |e: PolarsError| read_err(&files.logs[0], e);
    let f64col = |frame: &DataFrame, c: &str| -> Result<Vec<Option<f64>>, DataError> {
        let s = frame
            .column(c)
            .and_then(|s| s.cast(&DataType::Float64))
            .map_err(err)?;
        Ok(s.f64().map_err(err)?.iter().collect())
    };
    let play_ms = f64col(&df, "play_time_ms")?;
    let clip = options.clip_seconds.unwrap_or(f64::INFINITY);
    let play: Vec<Option<f64>> = play_ms
        .iter()
        .map(|v| v.map(|ms| (ms / 1000.0).min(clip)))
        .collect();
    let dur: Vec<Option<f64>> = f64col(&df, "duration_ms")?
        .into_iter()
        .map(|v| v.map(|ms| (ms.max(0.0) / 1000.0).ln_1p()))
        .collect();
    let mut extra: Vec<Column> = vec![
        Column::new("play_time".into(), play),
        Column::new("log1p_duration_s".into(), dur),
    ];
    for c in USER_COUNTS {
        let v: Vec<Option<f64>> = f64col(&ujoined, c)?
            .into_iter()
            .map(|v| v.map(|x| x.max(0.0).ln_1p()))
            .collect();
        extra.push(Column::new(format!("log1p_{c}").into(), v));
    }
    let ujoined = ujoined.drop_many(USER_COUNTS);
    for c in extra {
        df.with_column(c).map_err(err)?;
    }
    let mut df = df.hstack(ujoined.columns()).map_err(err)?;
    df = df.hstack(vjoined.columns()).map_err(err)?;
    debug_assert_eq!(df.height(), n);

    let mut layout = spec.layout(
        format!(
            "{} (+ {}, {}, {})",
            files.logs[0].display(),
            LOGS[1],
            USERS,
            VIDEOS
        ),
        &categorical(),
        &numeric(),
    )?;
    layout.time = Some("time_ms".into());
    Ok((df, layout))
}

/// For every row of `log`, the row of `table` with the same `key` (first
/// occurrence), or null.
fn join_index(
    log: &DataFrame,
    table: &DataFrame,
    key: &str,
    path: &std::path::Path,
) -> Result<IdxCa, DataError> {
    let err = |e: PolarsError| read_err(path, e);
    let tkeys = table.column(key).map_err(err)?.i64().map_err(err)?.clone();
    let mut map: PlHashMap<i64, IdxSize> = PlHashMap::default();
    for (i, k) in tkeys.iter().enumerate() {
        if let Some(k) = k {
            map.entry(k).or_insert(i as IdxSize);
        }
    }
    let lkeys = log.column(key).map_err(err)?.i64().map_err(err)?.clone();
    let idx: Vec<Option<IdxSize>> = lkeys
        .iter()
        .map(|k| k.and_then(|k| map.get(&k).copied()))
        .collect();
    Ok(IdxCa::from_iter_options(key.into(), idx.into_iter()))
}

//! Command-line arguments.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// esmdb: ESM2 embeddings and fitness regression over a versioned store of DMS datasets.
#[derive(Debug, Parser)]
#[command(name = "esmdb", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create or inspect model checkpoints.
    ///
    /// Example: esmdb model init --arch esm2_t6_8M_UR50D --seed 7 --out random-8M
    #[command(subcommand)]
    Model(ModelCommand),
    /// Embed the sequences of a FASTA file with an ESM2 model and write Parquet (`--fasta`), or fill
    /// the store's embedding cache for a dataset (`--dataset`).
    ///
    /// Examples: esmdb embed --model esm2_t6_8M_UR50D --fasta seqs.fasta --pool mean,bos;
    /// esmdb embed --model esm2_t6_8M_UR50D --dataset YAP1
    Embed(EmbedArgs),
    /// Add DMS variants to a dataset of the store (paper layout, ProteinGym CSV, or any CSV/Parquet).
    ///
    /// Examples: esmdb ingest --dataset YAP1 YAP1_metadata.csv YAP1_muts.fasta;
    /// esmdb ingest --dataset mine variants.csv (columns id,sequence[,target])
    Ingest(IngestArgs),
    /// Put vectors computed elsewhere (Parquet: a sequence or id column and a vector column) into the
    /// store's embedding cache under a model's identity.
    ///
    /// Example: esmdb import --model esm2_t33_650M_UR50D --layer 33 --pool mean vectors.parquet
    Import(ImportArgs),
    /// List the versions of the store's tables.
    ///
    /// Example: esmdb versions variants
    Versions(VersionsArgs),
    /// Compact the store's tables and clean up old versions.
    ///
    /// Example: esmdb compact --retain-versions 5
    Compact(CompactArgs),
    /// Run SQL over the store (`;`-separated statements in one session; the last result is printed).
    ///
    /// Example: esmdb sql "SELECT dataset, count(*) FROM variants GROUP BY dataset"
    Sql(SqlArgs),
    /// Interactive SQL shell over the store, with line editing and history.
    ///
    /// Example: esmdb shell --store ./esmdb-data
    Shell(ShellArgs),
    /// The paper's study: datasets × models × compressions under its LassoCV protocol, resumable;
    /// writes results.csv, summary.csv and figures.
    ///
    /// Example: esmdb reproduce --datasets tests/fixtures/dms --models esm2_t6_8M_UR50D --out results
    Reproduce(ReproduceArgs),
    /// Run a cluster's scheduler: clients (`sql --cluster`) send it their queries, executors take
    /// their tasks from it.
    ///
    /// Example: esmdb scheduler --bind 0.0.0.0:50050 --store s3://bucket/study
    Scheduler(SchedulerArgs),
    /// Run a cluster executor: takes tasks from the scheduler, embeds into the store's cache.
    ///
    /// Example: esmdb executor --scheduler 10.0.0.1:50050 --threads 8
    Executor(ExecutorArgs),
}

#[derive(Debug, Args)]
pub struct SchedulerArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:50050", value_name = "HOST:PORT")]
    pub bind: String,
    /// Seconds an executor may stay silent before it is taken for dead and its tasks run elsewhere
    /// (executors send a heartbeat every 2 s).
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub executor_timeout: u64,
    /// Also answer Arrow Flight SQL clients (ADBC, JDBC) here; their queries run on this cluster
    /// over the store given by --store.
    #[arg(long, value_name = "HOST:PORT")]
    pub flight_sql: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ExecutorArgs {
    /// The scheduler's address.
    #[arg(long, env = "ESMDB_CLUSTER", value_name = "HOST:PORT")]
    pub scheduler: String,
    /// Address the other processes fetch this executor's results from (port 0: any free port).
    #[arg(long, default_value = "127.0.0.1:0", value_name = "HOST:PORT")]
    pub bind: String,
    /// Port (on the --bind host) the scheduler pushes tasks to (default: the --bind port + 1, or any
    /// free port when that is 0).
    #[arg(long, default_value_t = 0)]
    pub grpc_port: u16,
    /// Cores to use: tasks at once, and libtorch threads of every model (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Device of every model this executor loads (cpu, cuda or cuda:N), whatever a query sets.
    #[arg(long)]
    pub device: Option<String>,
    /// Directory for shuffle files (default: a new temporary directory, removed at exit).
    #[arg(long)]
    pub work_dir: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum ModelCommand {
    /// Write a seeded random-weight model for tests and benchmarks: ESM2 and ESM-1b/1v in the Hugging Face
    /// layout, ESM C in the `esm` package's published layout, AMPLIFY as chandar-lab's hub repositories hold it.
    Init {
        /// Architecture: esm2_t6_8M_UR50D, esm2_t12_35M_UR50D, esm2_t30_150M_UR50D, esm2_t33_650M_UR50D,
        /// esm2_t36_3B_UR50D, esm2_t48_15B_UR50D, esmc_300m, esmc_600m, esm1b_t33_650M_UR50S,
        /// esm1v_t33_650M_UR90S_1 … _5 (ESM-1b/1v as transformers directories, as their hub repositories hold),
        /// amplify_120m or amplify_350m.
        #[arg(long)]
        arch: String,
        /// Random seed.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Keep only the first N transformer blocks: a shallower model of the same width and format, for
        /// tests and demonstrations that must run in seconds (default: all of the architecture's).
        #[arg(long, value_name = "N")]
        layers: Option<i64>,
        /// Output directory (must not exist or be empty).
        #[arg(long)]
        out: PathBuf,
    },
    /// Print a model's architecture, identity and where it was found.
    Info {
        /// Model name, Hugging Face directory or fair-esm .pt file.
        model: String,
    },
}

/// Where and how to run the model.
#[derive(Debug, Args, Clone)]
pub struct RuntimeArgs {
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", env = "ESMDB_DEVICE")]
    pub device: String,
    /// Precision: fp32, bf16 (CPU and CUDA) or fp16 (CUDA).
    #[arg(long, default_value = "fp32", env = "ESMDB_PRECISION")]
    pub precision: String,
    /// CPU threads for libtorch (default: all cores).
    #[arg(long, env = "ESMDB_THREADS")]
    pub threads: Option<usize>,
    /// Token budget per batch, padding included.
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    /// Keep only the first N residues of each sequence (fair-esm extract.py uses 1022). Default: none.
    #[arg(long)]
    pub truncate: Option<usize>,
}

#[derive(Debug, Args)]
pub struct EmbedArgs {
    /// Model name (resolved from $ESMDB_MODELS and the Hugging Face / torch hub caches), Hugging Face
    /// directory or fair-esm .pt file.
    #[arg(long, env = "ESMDB_MODEL")]
    pub model: String,
    /// Input FASTA (writes Parquet). Exactly one of --fasta and --dataset is required.
    #[arg(long)]
    pub fasta: Option<PathBuf>,
    /// Store dataset to embed into the store's cache (only cache misses are computed).
    #[arg(long)]
    pub dataset: Option<String>,
    /// With --dataset: sequences per embedder call and per commit (an interrupted run loses at most one).
    #[arg(long, default_value_t = 256)]
    pub commit_every: usize,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Layers to output (0 = embeddings; default: the last; negative counts from the end).
    #[arg(long = "layer", allow_negative_numbers = true)]
    pub layers: Vec<i64>,
    /// Poolings, comma-separated: mean, bos, per_tok, or logits (the masked-LM head's per-residue
    /// logits over the ESM alphabet, from the last layer).
    #[arg(long, default_value = "mean", value_delimiter = ',')]
    pub pool: Vec<String>,
    /// Output Parquet file (default: the FASTA's name with .parquet).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

/// Where the store is.
#[derive(Debug, Args, Clone)]
pub struct StoreArgs {
    /// Store directory or object-store URI (s3://…, through Lance).
    #[arg(long = "store", env = "ESMDB_STORE", default_value = esmdb_store::DEFAULT_STORE)]
    pub store: String,
}

#[derive(Debug, Args)]
pub struct IngestArgs {
    /// Dataset name (letters, digits, `_`, `-`, `.`).
    #[arg(long)]
    pub dataset: String,
    /// Input files: the paper's *_metadata.csv and/or *_muts.fasta, a ProteinGym CSV, or CSV/Parquet.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Input format (default: detected from extension and header): paper, proteingym, columns or fasta.
    #[arg(long)]
    pub format: Option<String>,
    /// Id column of a CSV/Parquet input (implies --format columns; default `id`).
    #[arg(long)]
    pub id_col: Option<String>,
    /// Sequence column of a CSV/Parquet input (default `sequence`).
    #[arg(long)]
    pub sequence_col: Option<String>,
    /// Target column of a CSV/Parquet input (default: none).
    #[arg(long)]
    pub target_col: Option<String>,
    /// Overwrite stored variants whose sequence or target differ (default: that is an error).
    #[arg(long)]
    pub replace: bool,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// The model the vectors came from (name, Hugging Face directory or fair-esm .pt): its identity,
    /// width and layers key the cache.
    #[arg(long, env = "ESMDB_MODEL")]
    pub model: String,
    /// The layer the vectors are (negative counts from the end; default: the last).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub layer: i64,
    /// The pooling they are: mean or bos.
    #[arg(long, default_value = "mean")]
    pub pool: String,
    /// Parquet files, one row per sequence.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Sequence column (used when present).
    #[arg(long, default_value = "sequence")]
    pub sequence_col: String,
    /// Id column, when the files have no sequence column: ids of the variants of --dataset.
    #[arg(long, default_value = "id")]
    pub id_col: String,
    /// The dataset whose variants the ids name.
    #[arg(long)]
    pub dataset: Option<String>,
    /// Vector column (FixedSizeList or List of Float32/Float64).
    #[arg(long, default_value = "vector")]
    pub vector_col: String,
    /// Vectors per commit.
    #[arg(long, default_value_t = 65_536)]
    pub commit_every: usize,
    #[command(flatten)]
    pub store: StoreArgs,
    #[command(flatten)]
    pub runtime: RuntimeArgs,
}

#[derive(Debug, Args)]
pub struct VersionsArgs {
    /// Table (variants, datasets, embeddings_d320, …; default: all).
    pub table: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct CompactArgs {
    /// Versions to keep per table, the latest included.
    #[arg(long, default_value_t = 20)]
    pub retain_versions: usize,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// The session's `esmdb.*` settings (also `SET esmdb.<name> = …` in SQL).
#[derive(Debug, Args, Clone)]
pub struct SessionArgs {
    /// Default model of embed() and the other model functions (name, Hugging Face directory or fair-esm
    /// .pt). Default: the model that last filled the store's cache (`esmdb reproduce`, `esmdb embed`),
    /// else esm2_t6_8M_UR50D.
    #[arg(long, env = "ESMDB_MODEL")]
    pub model: Option<String>,
    /// Default layer (negative counts from the end).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub layer: i32,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", env = "ESMDB_DEVICE")]
    pub device: String,
    /// Precision: fp32, bf16 or fp16 (CUDA).
    #[arg(long, default_value = "fp32", env = "ESMDB_PRECISION")]
    pub precision: String,
    /// Token budget per forward pass, padding included.
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    /// libtorch CPU threads (default: all cores).
    #[arg(long, env = "ESMDB_THREADS")]
    pub threads: Option<usize>,
    /// Sequences per cache commit (the most an interrupted query loses).
    #[arg(long, default_value_t = 256)]
    pub commit_every: usize,
    /// Run queries on the cluster of this scheduler (`esmdb scheduler`) instead of in this process.
    #[arg(long, env = "ESMDB_CLUSTER", value_name = "HOST:PORT")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// SQL text; `-` reads it from standard input.
    pub sql: String,
    /// Output format: table, csv, json (one object per line) or parquet (needs --out).
    #[arg(long, default_value = "table")]
    pub format: String,
    /// Write the result to this file (atomically) instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Args)]
pub struct ShellArgs {
    #[command(flatten)]
    pub session: SessionArgs,
}

#[derive(Debug, Args)]
pub struct ReproduceArgs {
    /// Datasets, comma-separated: directories of the paper's layout (`<NAME>_metadata.csv` +
    /// `<NAME>_muts.fasta`), input files, or names of datasets already in the store.
    #[arg(long, value_delimiter = ',', required = true)]
    pub datasets: Vec<String>,
    /// Models, comma-separated (names, Hugging Face directories or fair-esm .pt files).
    #[arg(long, value_delimiter = ',', required = true)]
    pub models: Vec<String>,
    /// Compressions, comma-separated: mean, bos, max, pca1, pca1-2, iDCT1, iDCT2, iDCT3 (SWAT's
    /// names; mean and bos are cached in the store, the others computed from every residue).
    #[arg(long, value_delimiter = ',', default_value = "mean")]
    pub compress: Vec<String>,
    /// Layer (default: the last of each model).
    #[arg(long, default_value_t = -1, allow_negative_numbers = true)]
    pub layer: i32,
    /// Protocol options as in lasso_cv_eval, e.g. `preset=readme, scheme=modulo` (default: the
    /// paper's published settings).
    #[arg(long, default_value = "")]
    pub protocol: String,
    /// The paper's per-fold results CSV, to plot ours against the published numbers.
    #[arg(long)]
    pub paper: Option<PathBuf>,
    /// Zero-shot scores too: per dataset and model, the masked-LM head's Spearman ρ (`zero-shot(…)`
    /// rows) and each compression augmented with the score (`mean+zero-shot(…)` rows), plus the
    /// `zero_shot_vs_supervised` figure. Method: masked-marginals (default) or wt-marginals.
    #[arg(long, num_args = 0..=1, default_missing_value = "masked-marginals", value_name = "METHOD")]
    pub zero_shot: Option<String>,
    /// Output directory.
    #[arg(long, default_value = "results")]
    pub out: PathBuf,
    /// Device: cpu, cuda or cuda:N.
    #[arg(long, default_value = "cpu", env = "ESMDB_DEVICE")]
    pub device: String,
    /// Precision: fp32 (default), bf16 (CPU and CUDA; fast on CPUs with AMX) or fp16 (CUDA).
    /// Reduced-precision embeddings are cached apart from fp32 ones.
    #[arg(long, default_value = "fp32", env = "ESMDB_PRECISION")]
    pub precision: String,
    /// libtorch CPU threads (default: all cores).
    #[arg(long, env = "ESMDB_THREADS")]
    pub threads: Option<usize>,
    /// Token budget per forward pass.
    #[arg(long, default_value_t = 4096)]
    pub batch_tokens: usize,
    /// Run the embedding and the fits on the cluster of this scheduler (`esmdb scheduler`).
    #[arg(long, env = "ESMDB_CLUSTER", value_name = "HOST:PORT")]
    pub cluster: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

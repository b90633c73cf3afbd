import Foundation
import IdaRouting
import IdaBLAS
import IdaFormats
import IdaNumerics

/// One line of progress for the terminal or the log.
public struct TrainerReport: Sendable {
    /// Step just finished.
    public var step: Int
    /// Total steps.
    public var steps: Int
    /// Training loss (nats per byte).
    public var loss: Double
    /// Training tokens per second over the last step.
    public var tokensPerSecond: Double
    /// Seconds left at the current speed.
    public var eta: Double
    /// Latest validation bits per byte, when one has run.
    public var validationBitsPerByte: Double?
    /// Mean CV of the expert load over MoE layers.
    public var cvMean: Double
}

/// Trains a `MoETransformer` and writes a live run directory.
public final class Trainer {
    /// Model shape.
    public let config: ModelConfig
    /// Optimisation settings.
    public let options: TrainingOptions
    /// Corpus split.
    public let dataset: Dataset
    /// The run directory (locked while the trainer lives).
    public let run: RunDirectory
    /// The model.
    public internal(set) var model: MoETransformer
    var optimizer: AdamW
    var sampler: BatchSampler
    var reactivation: [Int: ReactivationState] = [:]
    /// The micro-batch replicas' gradient buffers, reused from step to step.
    let microBatchBuffers = MicroBatchBuffers()
    /// Where the training steps' time went since the last `resetStepTimings()` (`bench train --phases`).
    public var stepTimings: StepTimings { microBatchBuffers.timings }
    /// Starts `stepTimings` afresh.
    public func resetStepTimings() { microBatchBuffers.timings = StepTimings() }
    /// The workers every kernel of a step runs on (`options.threads`, 0: every core).
    var context: NumericContext { NumericContext(requested: options.threads) }
    /// Steps completed.
    public internal(set) var step = 0
    var lastValidation: Double?

    /// Starts a new run in `runDir`, which must not hold one.
    public convenience init(config: ModelConfig, options: TrainingOptions, runDir: String) throws {
        try self.init(config: config, options: options, runDir: runDir, resuming: nil)
    }

    /// Continues the run in `runDir` from its newest complete snapshot with the settings of its run.json,
    /// to its planned step count. `steps` changes the plan (it may not be below the resumed step; the
    /// new plan is written to run.json and recorded in the resume event); `threads` changes the thread
    /// count (recorded: a GEMM's last bits follow it). Nothing else of a run can change on resume.
    public convenience init(resuming runDir: String, steps: Int? = nil, threads: Int? = nil) throws {
        let manifest = try RunManifest.read(runDir)
        var options = manifest.training
        if let steps { options.steps = steps }
        if let threads { options.threads = threads }
        try self.init(config: manifest.model, options: options, runDir: runDir,
                      resuming: ResumeRequest(manifest: manifest, steps: steps, threads: threads))
    }

    /// What a resume was asked to change.
    struct ResumeRequest {
        var manifest: RunManifest
        var steps: Int?
        var threads: Int?
    }

    init(config: ModelConfig, options: TrainingOptions, runDir: String, resuming request: ResumeRequest?) throws {
        try config.validate()
        try config.validateByteLevel()
        try options.validate()
        try config.checkTrainingFits(options)
        if config.router == .sigmoidBias {
            // The point of the baseline is balancing without an auxiliary loss; its backward has none.
            for (key, weight) in [("auxLoss", options.auxLoss), ("zLoss", options.zLoss)] where weight != 0 {
                throw SettingError.invalidSetting(key: key, problem: "must be 0 for the sigmoid-bias router, which balances by its selection bias")
            }
        }
        let corpus = try Corpus(paths: options.corpus)
        var heldOut = Set<Int>()
        for name in options.holdoutDomains ?? [] {
            guard let d = corpus.domains.firstIndex(where: { $0.name == name }) else {
                throw SettingError.invalidSetting(key: "holdoutDomains", problem: "'\(name)' is not a domain of the corpus")
            }
            heldOut.insert(d)
        }
        guard heldOut.count < corpus.domains.count else {
            throw SettingError.invalidSetting(key: "holdoutDomains", problem: "must leave at least one domain to train on")
        }
        let dataset = Dataset(corpus: corpus, validationShare: options.validationShare, seed: options.seed,
                              maxDocument: config.context, heldOut: heldOut, probeRule: options.probeRule ?? .seeded)
        guard dataset.train.tokens.count > config.context + 1 else {
            throw TrainingError.corpusTooSmall("the corpus has \(dataset.train.tokens.count) training bytes; "
                                               + "it needs more than one context window (\(config.context + 1))")
        }
        self.config = config
        self.options = options
        self.dataset = dataset
        self.run = try RunDirectory(path: runDir, fresh: request == nil)
        self.model = try MoETransformer(config: config, seed: options.seed)
        self.optimizer = AdamW(weightDecay: options.weightDecay)
        self.sampler = BatchSampler(seed: options.seed)
        for i in config.moeLayers where config.router == .ida {
            reactivation[i] = ReactivationState(components: config.experts * config.componentsPerExpert,
                                                config: options.reactivationConfig, seed: options.seed &+ UInt64(i))
        }
        if let request {
            try resume(request)
        } else {
            initializeMixtures()
            try startRun()
        }
    }

    /// Restores the newest complete snapshot (or, killed before the first one, starts over from step 0
    /// exactly as the run began), applies the plan change, and appends the `resume` event.
    func resume(_ request: ResumeRequest) throws {
        var reader = EventLogReader<RunEvent>(path: run.layout.events)
        let logged = (try? reader.readNew()) ?? []
        let newestSnapshot = run.completeSnapshotSteps().first
        // Refused before anything is written.
        if let steps = request.steps, steps < (newestSnapshot ?? 0) {
            throw SettingError.invalidSetting(key: "steps", problem: "(\(steps)) is below the step the run resumes from (\(newestSnapshot ?? 0))")
        }
        // A run that logged `done` is complete; one killed after its final snapshot but before `done`
        // resumes to nothing and `train` logs the `done`.
        if let newest = newestSnapshot, newest >= options.steps, request.steps == nil,
           logged.contains(where: { $0.kind == "done" && $0.step == newest }) {
            throw SettingError.invalidSetting(key: "steps", problem: "must be above \(newest) to continue \(run.path): "
                                               + "the run is complete (step \(newest) of \(options.steps))")
        }
        // Killed between publishing run.json and logging `start`: write the probe and `start` now, so
        // the resumed run's events begin as every run's do.
        if !logged.contains(where: { $0.kind == "start" }) { try writeRunStart() }
        if let newest = newestSnapshot {
            try restore(step: newest)
            // Killed between publishing the snapshot and logging it: log it now, so the events say so.
            if !logged.contains(where: { $0.kind == "snapshot" && $0.step == newest }) { try logSnapshot() }
        } else {
            initializeMixtures()
        }
        var record = ResumeEvent(fromStep: step, steps: options.steps)
        if let steps = request.steps, steps != request.manifest.training.steps {
            var manifest = request.manifest
            manifest.training.steps = steps
            try run.writeManifest(try manifest.encoded())
            record.plannedStepsBefore = request.manifest.training.steps
        }
        if let threads = request.threads, threads != request.manifest.training.threads {
            record.threads = threads
        }
        try run.append(RunEvent(step: step, .resume(record)))
    }

    /// Places every IDA mixture on the latents of a first batch (docs/decisions.md); deterministic in the seed.
    func initializeMixtures() {
        var initSampler = BatchSampler(seed: options.seed ^ 0x1D_A1)
        let (tokens, _) = initSampler.next(from: dataset.train, batch: options.batch, time: config.context)
        let inputs = model.routerInputs(tokens: tokens, batch: options.batch, time: config.context, context: context)
        var rng = SeededGenerator(seed: options.seed ^ 0x6A_11)
        for i in config.moeLayers {
            guard var router = model.blocks[i].ida, let h = inputs[i] else { continue }
            router.initializeMixture(from: h, rng: &rng, seeding: options.mixtureInit ?? .random)
            model.blocks[i].ida = router
        }
    }

    /// Writes run.json, the probe and the `start` event of a new run.
    func startRun() throws {
        let manifest = RunManifest(model: config, training: options, domains: dataset.domainNames,
                                   corpusBytes: dataset.train.tokens.count + dataset.validation.reduce(0) { $0 + $1.tokens.count },
                                   parameters: model.parameterCount, probeTokens: dataset.probe.tokens.count,
                                   created: Date().timeIntervalSince1970)
        try run.writeManifest(try manifest.encoded())
        try writeRunStart()
    }

    /// The run's probe (tokens only) and its `start` event.
    func writeRunStart() throws {
        try writeProbe(to: run.layout.probe, hidden: [:])
        try run.append(RunEvent(step: 0, .start(StartEvent(parameters: model.parameterCount, router: config.router.rawValue,
                                                            domains: dataset.domainNames))))
    }

    /// Runs until `options.steps` (or until step `stopAt`, as if interrupted there), snapshotting and
    /// validating on schedule; `report` sees every step.
    public func train(stopAt: Int? = nil, shouldStop: () -> Bool = { false },
                      report: (TrainerReport) -> Void = { _ in }) throws {
        var lastCV = 0.0
        // `shouldStop` is asked between steps (a signal's request): the run stays resumable as after a
        // kill, with no torn line and its last step logged.
        while step < min(options.steps, stopAt ?? .max), !shouldStop() {
            let started = Date()
            let layers = try trainStep()
            let elapsed = Date().timeIntervalSince(started)
            let tokensPerSecond = Double(options.batch * config.context) / max(elapsed, 1e-9)
            lastCV = layers.cvMean
            try run.append(RunEvent(step: step, .step(layers.event(tokensPerSecond: tokensPerSecond))))
            if step % options.evalEvery == 0 || step == options.steps { try validate() }
            if step % options.snapshotEvery == 0 || step == options.steps { try snapshot() }
            report(TrainerReport(step: step, steps: options.steps, loss: layers.loss, tokensPerSecond: tokensPerSecond,
                                 eta: Double(options.steps - step) * elapsed, validationBitsPerByte: lastValidation,
                                 cvMean: lastCV))
        }
        if step == options.steps { try run.append(RunEvent(step: step, .done)) }
    }
}

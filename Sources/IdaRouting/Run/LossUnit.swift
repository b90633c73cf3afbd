import IdaNumerics

/// What a run's training loss is per (run.json `lossUnit`): the trainer's byte-level loss is nats per
/// byte; a PyTorch run over a tokenizer's tokens logs nats per token. Absent in runs written before it
/// existed, which were all byte-level (nats per byte).
public enum LossUnit: String, Sendable, CaseIterable, NamedChoice {
    /// Natural-log loss per byte (idamoe train, byte-level models).
    case natsPerByte = "nats/byte"
    /// Natural-log loss per token of a tokenizer.
    case natsPerToken = "nats/token"
}

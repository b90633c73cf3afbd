/// The inspector's screens, switched with 1-5 or Tab.
public enum Screen: Int, Sendable, CaseIterable {
    /// Load heatmap, loss and CV over steps, alerts.
    case overview = 1
    /// One MoE layer: load bars, priors heatmap, dead components, reactivation timeline.
    case layer
    /// The probe's latents projected to 2-D.
    case latent
    /// The probe text coloured by expert, with a token cursor.
    case tokens
    /// Snapshots over the run; replay.
    case timeline

    /// The name shown in the tab bar.
    public var title: String {
        switch self {
        case .overview: return "Overview"
        case .layer: return "Layer"
        case .latent: return "Latent"
        case .tokens: return "Tokens"
        case .timeline: return "Timeline"
        }
    }
}

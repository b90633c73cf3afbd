import IdaRouting
import IdaTraining

/// The one tiny model the training and command-line tests use: D 16, 2 heads, 2 blocks, T 16, E 4,
/// k 2, F 16, M 2, P 4, encoder 16 -> 8 -> 4; trains in about a second in a debug build.
public enum TinyModel {
    /// The model as a configuration.
    public static func config(router: RouterKind = .ida) -> ModelConfig {
        var c = ModelConfig()
        c.width = 16
        c.heads = 2
        c.blocks = 2
        c.context = 16
        c.experts = 4
        c.topK = 2
        c.expertHidden = 16
        c.router = router
        c.componentsPerExpert = 2
        c.latentDim = 4
        c.routerHidden = [8]
        return c
    }

    /// The same model as `idamoe train` flags, with a batch of 2, one thread and plain log lines.
    public static var arguments: [String] {
        let c = config()
        return ["--width", "\(c.width)", "--heads", "\(c.heads)", "--blocks", "\(c.blocks)", "--context", "\(c.context)",
                "--batch", "2", "--experts", "\(c.experts)", "--expert-hidden", "\(c.expertHidden)",
                "--components", "\(c.componentsPerExpert)", "--latent", "\(c.latentDim)",
                "--router-hidden", c.routerHidden.map(String.init).joined(separator: ","), "--threads", "1", "--quiet"]
    }
}

import IdaBLAS
import Testing
import IdaSystem

/// Feature sets of real processor generations, as CPUID and XCR0 report them.
enum Machines {
    static var sse3Only: CPUFeatures {
        var f = CPUFeatures()
        f.sse3 = true
        return f
    }

    static var haswell: CPUFeatures {
        var f = sse3Only
        f.avx = true; f.fma = true; f.avx2 = true; f.osSavesYMM = true
        return f
    }

    /// Sapphire Rapids / Emerald Rapids class (family 6 model 207): everything, OS saves ZMM.
    static var avx512: CPUFeatures {
        var f = haswell
        f.avx512f = true; f.avx512bw = true; f.avx512dq = true; f.avx512vl = true; f.osSavesZMM = true
        return f
    }
}

@Suite("OpenBLAS kernel choice")
struct KernelChoiceTests {
    @Test("a generic core on an AVX-512 CPU becomes SkylakeX; on an AVX2 CPU, Haswell")
    func upgradesGenericCores() {
        #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: "Prescott", userSetting: nil)
                == .upgrade(core: "SkylakeX", replacing: "Prescott"))
        #expect(KernelChoice.decide(features: Machines.haswell, loadedCore: "Prescott", userSetting: nil)
                == .upgrade(core: "Haswell", replacing: "Prescott"))
        #expect(KernelChoice.decide(features: Machines.haswell, loadedCore: "Sandybridge", userSetting: nil)
                == .upgrade(core: "Haswell", replacing: "Sandybridge"))
        #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: "Haswell", userSetting: nil)
                == .upgrade(core: "SkylakeX", replacing: "Haswell"))
    }

    @Test("a value the user set always wins, even a weaker one")
    func userWins() {
        #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: "Prescott", userSetting: "Prescott")
                == .user("Prescott"))
        #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: "Haswell", userSetting: "Haswell")
                == .user("Haswell"))
        // An empty value counts as unset.
        #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: "Prescott", userSetting: "")
                == .upgrade(core: "SkylakeX", replacing: "Prescott"))
    }

    @Test("OpenBLAS's own choice stays when it is as good, better, or a core we do not rank")
    func keepsGoodChoices() {
        for core in ["SkylakeX", "Cooperlake", "SapphireRapids"] {
            #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: core, userSetting: nil) == .openBLAS(core))
        }
        #expect(KernelChoice.decide(features: Machines.haswell, loadedCore: "Zen", userSetting: nil) == .openBLAS("Zen"))
        #expect(KernelChoice.decide(features: Machines.haswell, loadedCore: "SkylakeX", userSetting: nil)
                == .openBLAS("SkylakeX"))
        #expect(KernelChoice.decide(features: Machines.avx512, loadedCore: "Neoverse9", userSetting: nil)
                == .openBLAS("Neoverse9"))
        // Nothing better to run: an SSE3-only CPU keeps Prescott.
        #expect(KernelChoice.decide(features: Machines.sse3Only, loadedCore: "Prescott", userSetting: nil)
                == .openBLAS("Prescott"))
    }

    @Test("features the OS does not save are not usable")
    func osSupportMatters() {
        var noYMM = Machines.avx512
        noYMM.osSavesYMM = false
        noYMM.osSavesZMM = false
        #expect(KernelChoice.bestCore(for: noYMM) == nil)
        var noZMM = Machines.avx512
        noZMM.osSavesZMM = false
        #expect(KernelChoice.bestCore(for: noZMM) == "Haswell")
        #expect(KernelChoice.decide(features: noZMM, loadedCore: "Prescott", userSetting: nil)
                == .upgrade(core: "Haswell", replacing: "Prescott"))
        var missingVL = Machines.avx512
        missingVL.avx512vl = false  // Knights Landing has F but not BW/DQ/VL
        #expect(KernelChoice.bestCore(for: missingVL) == "Haswell")
        var noFMA = Machines.haswell
        noFMA.fma = false
        #expect(KernelChoice.bestCore(for: noFMA) == nil)
    }

    @Test("the cores the suite runs under are those the CPU can run, weakest first")
    func runnableCores() {
        #expect(KernelChoice.runnableCores(for: Machines.sse3Only) == ["Prescott"])
        #expect(KernelChoice.runnableCores(for: Machines.haswell) == ["Prescott", "Haswell"])
        #expect(KernelChoice.runnableCores(for: Machines.avx512) == ["Prescott", "Haswell", "SkylakeX"])
    }

    @Test("the CPU this runs on reads consistently")
    func currentCPU() {
        let f = CPUFeatures.current()
        #if arch(x86_64)
        #expect(!f.vendor.isEmpty)
        #expect(f.sse3)  // every x86-64 CPU since 2004
        #endif
        // Usable AVX-512 implies usable AVX2 (the OS saving ZMM saves YMM too).
        if f.canRunAVX512 { #expect(f.canRunAVX2) }
        #expect(f.usableNames.contains("avx2") == (f.avx2 && f.osSavesYMM))
    }
}

@Suite("Vector level of idamoe's own loops")
struct VectorLevelTests {
    @Test("the widest level the features and the OS allow, and every narrower one runnable")
    func levels() {
        #expect(VectorLevel.best(for: Machines.sse3Only) == .generic)
        #expect(VectorLevel.best(for: Machines.haswell) == .avx2)
        #expect(VectorLevel.best(for: Machines.avx512) == .avx512)
        var noZMM = Machines.avx512
        noZMM.osSavesZMM = false
        #expect(VectorLevel.best(for: noZMM) == .avx2)
        var noFMA = Machines.haswell
        noFMA.fma = false
        #expect(VectorLevel.best(for: noFMA) == .generic)
        #expect(VectorLevel.runnable(on: Machines.haswell) == [.generic, .avx2])
        #expect(VectorLevel.runnable(on: Machines.avx512) == [.generic, .avx2, .avx512])
        #expect(VectorLevel.current == VectorLevel.best(for: .current()))
    }
}

@Suite("Allocator settings")
struct AllocatorTests {
    @Test("glibc takes the settings (they once compiled to nothing without anyone noticing)")
    func glibcTakesThem() {
        #if canImport(Glibc)
        #expect(Allocator.keepFreedMemory())
        #endif
    }
}

import Foundation
import IdaRouting
import IdaFormats
import IdaTestSupport
import Testing

/// `idamoe train --resume` driven as a user drives it: kill -9 at a random moment, then a bare resume.
@Suite("idamoe train --resume, end to end")
struct ResumeCommandTests {
    static let steps = 12

    /// The run's events as docs/format.md defines them after resumes: a `resume` event's later events
    /// replace those of steps after its `from_step`. Times, speeds and the resume events are left out.
    static func effectiveEvents(_ dir: String) throws -> [Event] {
        var reader = EventLogReader<EventRecord>(path: RunLayout(dir).events)
        var kept: [EventRecord] = []
        for record in try reader.readNew() {
            if record.kind == "resume" {
                let from = record.fields["from_step"]?.int ?? 0
                kept.removeAll { $0.step > from }
                continue
            }
            kept.append(record)
        }
        return kept.map { r in
            var fields = r.fields
            fields["tokens_per_s"] = nil
            fields["time"] = nil
            return Event(step: r.step, kind: r.kind, fields: fields)
        }
    }

    /// One event without its time.
    struct Event: Equatable {
        var step: Int
        var kind: String
        var fields: [String: JSONValue]
    }

    func trainArguments(_ dir: String, corpus: String) -> [String] {
        ["train", "--run-dir", dir, "--corpus", corpus, "--steps", "\(Self.steps)", "--snapshot-every", "3",
         "--eval-every", "3", "--seed", "5"] + tinyModelArguments
    }

    @Test("killed at random moments, a bare --resume ends at the planned step with the uninterrupted run's events and weights")
    func killAndResume() throws {
        let root = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: root)
        let started = Date()
        let straight = try runIdamoe(trainArguments(root + "/straight", corpus: corpus))
        let duration = Date().timeIntervalSince(started)
        #expect(straight.status == 0, "\(straight.stderr)")
        let expected = try Self.effectiveEvents(root + "/straight")
        let finalSnapshot = try SafetensorsFile(path: RunLayout(root + "/straight").snapshot(step: Self.steps))
        var rng = SystemRandomNumberGenerator()
        for trial in 0..<3 {
            let dir = root + "/trial\(trial)"
            // Start training, wait for run.json, then kill -9 after a random share of a whole run's time.
            let delay = Double.random(in: 0.0...0.8, using: &rng) * duration
            let command = ([idamoeBinary()] + trainArguments(dir, corpus: corpus)).map { "'\($0)'" }.joined(separator: " ")
            try shell("\(command) 2>/dev/null & pid=$!; while [ ! -e '\(dir)/run.json' ] && kill -0 $pid 2>/dev/null; do sleep 0.01; done; "
                      + "sleep \(String(format: "%.3f", delay)); kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null; true", timeout: 120)
            var log = EventLogReader<EventRecord>(path: RunLayout(dir).events)
            let finishedBeforeKill = try log.readNew().contains { $0.kind == "done" }
            let resumed = try runIdamoe(["train", "--resume", dir, "--quiet"])
            let note = "trial \(trial), killed after \(String(format: "%.2f", delay)) s"
            if finishedBeforeKill {
                // Nothing left to do: a bare resume of a complete run says so (and changes nothing).
                #expect(resumed.status != 0 && resumed.stderr.contains("the run is complete"), "\(note): \(resumed.stderr)")
            } else {
                #expect(resumed.status == 0, "\(note): \(resumed.stderr)")
            }
            let events = try Self.effectiveEvents(dir)
            let firstDifference = zip(events, expected).first { $0.0 != $0.1 }.map { "step \($0.0.step) \($0.0.kind) differs" }
            #expect(events.count == expected.count && firstDifference == nil,
                    "\(note): \(events.count) events, expected \(expected.count); \(firstDifference ?? "")")
            let snapshot = try SafetensorsFile(path: RunLayout(dir).snapshot(step: Self.steps))
            for t in finalSnapshot.tensors {
                #expect(try snapshot.floats(t.name) == finalSnapshot.floats(t.name), "\(note): \(t.name)")
            }
        }
    }

    @Test("--steps on resume changes the plan (recorded, run.json rewritten); below the resumed step or other flags are refused")
    func planChanges() throws {
        let root = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: root)
        let dir = root + "/run"
        #expect(try runIdamoe(trainArguments(dir, corpus: corpus)).status == 0)
        let before = try Data(contentsOf: URL(fileURLWithPath: RunLayout(dir).events))
        let complete = try runIdamoe(["train", "--resume", dir])
        #expect(complete.status != 0 && complete.stderr.contains("--steps must be above 12"), "\(complete.stderr)")
        let below = try runIdamoe(["train", "--resume", dir, "--steps", "6"])
        #expect(below.status != 0 && below.stderr.split(separator: "\n").count == 1, "\(below.stderr)")
        let other = try runIdamoe(["train", "--resume", dir, "--width", "32", "--lr", "0.1"])
        #expect(other.status == 64 && other.stderr.contains("--width, --lr cannot be given with --resume"), "\(other.stderr)")
        // Refused resumes write nothing.
        #expect(try Data(contentsOf: URL(fileURLWithPath: RunLayout(dir).events)) == before)
        let longer = try runIdamoe(["train", "--resume", dir, "--steps", "15", "--quiet"])
        #expect(longer.status == 0, "\(longer.stderr)")
        var reader = EventLogReader<EventRecord>(path: RunLayout(dir).events)
        let events = try reader.readNew()
        let resume = try #require(events.last { $0.kind == "resume" })
        #expect(resume.step == 12 && resume.fields["steps"]?.int == 15 && resume.fields["planned_steps_before"]?.int == 12)
        #expect(events.last?.kind == "done" && events.last?.step == 15)
        let manifest = try JSONValue.parse(bytes: Array(try Data(contentsOf: URL(fileURLWithPath: RunLayout(dir).manifest))))
        #expect(manifest["training"]?["steps"]?.int == 15)
        // A bare resume of the longer run is complete at 15, the new plan.
        let again = try runIdamoe(["train", "--resume", dir])
        #expect(again.stderr.contains("--steps must be above 15"), "\(again.stderr)")
    }

    @Test("a file-size limit (ulimit -f) stops training with a one-line error; the run then resumes to its end")
    func fileSizeLimit() throws {
        let root = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: root)
        let dir = root + "/run"
        // A smaller model than the tiny one, so events.jsonl outgrows the snapshot files and the limit
        // is met by an append in mid-run rather than by the first snapshot.
        let small = ["--width", "8", "--heads", "2", "--blocks", "2", "--context", "16", "--batch", "2", "--experts", "4",
                     "--expert-hidden", "8", "--components", "2", "--latent", "4", "--router-hidden", "4", "--threads", "1", "--quiet"]
        let command = ([idamoeBinary(), "train", "--run-dir", dir, "--corpus", corpus, "--steps", "200",
                        "--snapshot-every", "25", "--eval-every", "25"] + small).map { "'\($0)'" }.joined(separator: " ")
        let limited = try runChild("/bin/bash", ["-c", "ulimit -f 48; exec \(command)"], timeout: 120)
        #expect(limited.status == 1, "\(limited.stderr)")
        let errorLines = limited.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errorLines.count == 1 && errorLines.first?.contains("File too large") == true, "\(limited.stderr)")
        var reader = EventLogReader<EventRecord>(path: RunLayout(dir).events)
        #expect(try reader.readNew().contains { $0.kind == "done" } == false)
        let resumed = try runIdamoe(["train", "--resume", dir, "--quiet"])
        #expect(resumed.status == 0, "\(resumed.stderr)")
        var after = EventLogReader<EventRecord>(path: RunLayout(dir).events)
        #expect(try after.readNew().last?.kind == "done")
    }

    @Test("an unwritable place for the run directory is a one-line error, and nothing is created")
    func unwritableRunDirectory() throws {
        let root = temporaryDirectory()
        let corpus = try makeTinyCorpus(in: root)
        let parent = root + "/read-only"
        try FileManager.default.createDirectory(atPath: parent, withIntermediateDirectories: true)
        // As root, permissions do not stop writes: run the trainer as nobody (a copy of the binary it
        // can read), in a folder nobody may not write.
        let binary = root + "/idamoe"
        // Copied by cp, not by this process: a file this process held open for writing could be
        // inherited by a child another test spawns meanwhile, and executing it would fail (ETXTBSY).
        try shell("cp '\(idamoeBinary())' '\(binary)'")
        for (path, mode) in [(root, 0o755), (corpus, 0o755), (parent, 0o555), (binary, 0o755)] {
            chmod(path, mode_t(mode))
        }
        for file in try FileManager.default.contentsOfDirectory(atPath: corpus) { chmod(corpus + "/" + file, 0o644) }
        let asNobody = getuid() == 0 ? ["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] : []
        let run = try runChild(asNobody.first ?? binary, Array(asNobody.dropFirst()) + (asNobody.isEmpty ? [] : [binary])
                               + ["train", "--run-dir", parent + "/run", "--corpus", corpus, "--steps", "2"] + tinyModelArguments,
                               timeout: 120)
        #expect(run.status == 1, "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1 && run.stderr.contains(parent + "/run: cannot be created"), "\(run.stderr)")
        #expect(!FileManager.default.fileExists(atPath: parent + "/run"))
    }
}

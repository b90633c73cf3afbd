import ArgumentParser
import IdaNumerics
import IdaRouting
import IdaTerminal

// The closed sets as option values: ArgumentParser parses them (and lists the allowed values in
// --help and in its error) from the same enums the library uses.
extension RouterKind: ExpressibleByArgument {}
extension Activation: ExpressibleByArgument {}
extension ExpertScore: ExpressibleByArgument {}
extension InputNorm: ExpressibleByArgument {}
extension ReactivationMode: ExpressibleByArgument {}
extension MixtureInit: ExpressibleByArgument {}
extension Reseed: ExpressibleByArgument {}
extension TrainingOptions.RouterSchedule: ExpressibleByArgument {}
extension ExpertMLP.Kind: ExpressibleByArgument {}
extension FrameFormat: ExpressibleByArgument {}


/// "(default: 128)" from the value the library uses, for help texts of optional flags.
func defaultText<T>(_ value: T) -> String {
    if let choice = value as? any NamedChoice { return "(default: \(choice.rawValue))" }
    if let list = value as? [Int] { return "(default: \(list.map(String.init).joined(separator: ",")))" }
    return "(default: \(value))"
}

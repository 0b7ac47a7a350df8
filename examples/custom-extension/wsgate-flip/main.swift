import FlipExtension
import Gateway
import WSGateCommand

// A wsgate build with one more extension: configuration files run by this binary may write
// `extensions: { x-flip: { note: hello } }`.
var registry = ExtensionRegistry.standard
registry.register("x-flip") { parameters in FlipFactory(note: parameters["note"]) }
await ExtensionRegistry.$current.withValue(registry) {
    await WSGateCommand.runMain()
}

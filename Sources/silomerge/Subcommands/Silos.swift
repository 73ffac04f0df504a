import ArgumentParser
import Foundation
import SiloMergeCore

struct Silos: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the silos in the catalogue, or remove one.",
        subcommands: [List.self, Remove.self],
        defaultSubcommand: List.self
    )

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List catalogued silos with their root, priority and size.")
        @OptionGroup var configOption: ConfigOption
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readOnly)
            let silos = try catalogue.silos()
            if silos.isEmpty { print("No silos in \(catalogue.location) yet."); return }
            let stats = try catalogue.analyse(DuplicateQuery(), top: 0).silos
            let width = max(8, silos.map(\.name.count).max()! + 2)
            print(Format.pad("SILO", width) + Format.pad("PRIO", 6, right: true) + Format.pad("FILES", 10, right: true)
                  + Format.pad("SIZE", 12, right: true) + "  ROOT")
            for silo in silos {
                let s = stats.first { $0.silo == silo.name }
                print(Format.pad(silo.name, width) + Format.pad(String(silo.priority), 6, right: true)
                      + Format.pad(Format.count(s?.files ?? 0), 10, right: true)
                      + Format.pad(Format.bytes(s?.bytes ?? 0), 12, right: true) + "  " + silo.root.display)
            }
        }
    }

    struct Remove: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Forget a silo and everything catalogued in it (its files are not touched).")
        @Argument(help: "The silo's name.") var name: String
        @OptionGroup var configOption: ConfigOption
        @OptionGroup var catalogOptions: CatalogOptions

        func run() throws {
            let catalogue = try catalogOptions.open(config: try configOption.load(), access: .readWrite)
            let lock = try catalogue.lockForScan()
            let open = try catalogue.openFindings(silos: [name])
            try catalogue.removeSilo(named: name)
            withExtendedLifetime(lock) {}
            print("Removed silo '\(name)' from \(catalogue.location); no file was touched.")
            if !open.isEmpty {
                print("Its \(open.count) open finding\(open.count == 1 ? " was" : "s were") closed as silo-removed, by \(UserNames.current) (silomerge history lists them).")
            }
        }
    }
}

/// The tool's version, written into every run, plan and report.
public enum SiloMergeVersion {
    public static let string = "0.1.0"
}

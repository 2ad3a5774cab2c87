// Check Nextflow files with nf-lang, the parser behind `nextflow lint` and the strict syntax that
// Nextflow >= 26.04 applies by default. Prints one line per diagnostic,
//   ERROR|WARN <file>:<line>:<column>: <message>
// then `CHECKED <n>`. Run by tests/test_pipeline_runs.py, which decides what fails.
import nextflow.config.control.ConfigParser
import nextflow.script.control.ScriptParser
import org.codehaus.groovy.control.messages.SyntaxErrorMessage

for (String path : args) {
    def parser = path.endsWith('.config') ? new ConfigParser() : new ScriptParser()
    def source = parser.parse(new File(path))
    parser.analyze()
    def collector = source.getErrorCollector()
    for (def msg : (collector.getErrors() ?: [])) {
        if (msg instanceof SyntaxErrorMessage) {
            def e = msg.getCause()
            println "ERROR ${path}:${e.getStartLine()}:${e.getStartColumn()}: ${e.getOriginalMessage()}"
        } else {
            println "ERROR ${path}:0:0: ${msg}"
        }
    }
    for (def w : (collector.getWarnings() ?: [])) {
        println "WARN ${path}:${w.getContext()?.getStartLine() ?: 0}:${w.getContext()?.getStartColumn() ?: 0}: ${w.getMessage()}"
    }
}
println "CHECKED ${args.length}"

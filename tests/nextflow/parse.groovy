// Parse (compile, never run) Nextflow DSL2 and config files as Groovy 4 scripts.
// Usage: java -cp groovy-4.0.26.jar groovy.ui.GroovyMain parse.groovy FILE...
// Prints "OK file" or "FAIL file: message" per file; exits 1 if any fails.
import org.codehaus.groovy.control.CompilerConfiguration
import org.codehaus.groovy.control.CompilationUnit
import org.codehaus.groovy.control.Phases

int failed = 0
args.each { String path ->
    def f = new File(path)
    try {
        def cu = new CompilationUnit(new CompilerConfiguration())
        cu.addSource(f.name.replaceAll(/[^A-Za-z0-9_]/, '_'), f.text)
        cu.compile(Phases.CONVERSION)
        println "OK ${path}"
    } catch (Throwable e) {
        failed++
        println "FAIL ${path}: ${e.message?.readLines()?.take(6)?.join(' | ')}"
    }
}
System.exit(failed ? 1 : 0)

// Render the command a Nextflow module runs: evaluate its ext.args closure (from conf/modules.config)
// with the pipeline's params, then its script: block with task, meta and the staged input names.
// Reads a JSON request on stdin: {params, meta, ext_args_closure, script, inputs, process}
// Prints the rendered command.
import groovy.json.JsonSlurper

def req = new JsonSlurper().parse(System.in)
def shell = new GroovyShell()
def params = req.params
def args = ''
if (req.ext_args_closure) {
    def b = new Binding([params: params, meta: req.meta, task: [process: req.process, attempt: 1]])
    def closure = new GroovyShell(b).evaluate("def __c = " + req.ext_args_closure + "\n__c")
    closure.delegate = b.variables
    args = closure.call()?.toString() ?: ''
}
def vars = [params: params, meta: req.meta,
            task: [ext: [args: args, prefix: null, when: null], process: req.process, cpus: 2, attempt: 1]]
vars.putAll(req.inputs)
def rendered = new GroovyShell(new Binding(vars)).evaluate(req.script)
// Nextflow strips the common indentation of a script before running it
print rendered.toString().stripIndent()

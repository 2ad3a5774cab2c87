#!/usr/bin/env nextflow
/*
 * liverannot: automated liver cell-type classification and cluster annotation for scRNA-seq.
 * Each process calls one `liverannot` subcommand; all step logic lives in the Python package.
 */
nextflow.enable.dsl = 2

include { validateParameters; paramsSummaryLog; samplesheetToList } from 'plugin/nf-schema'
include { LIVERANNOT } from './workflows/liverannot'

workflow {

    main:
    validateParameters()
    log.info paramsSummaryLog(workflow)

    // samplesheet: sample,input[,species]; the species column, when empty, falls back to --species
    // (and when that is empty too, liverannot detects the species from the gene names)
    // input paths are relative to the samplesheet's folder (as for `liverannot run`) unless absolute
    // or URLs; a missing input stops the run naming the sample and the path
    def sheet_dir = file(params.input).parent
    ch_samples = Channel
        .fromList(samplesheetToList(params.input, "${projectDir}/assets/schema_input.json"))
        .map { meta, input ->
            def species = meta.species ?: params.species
            def is_abs  = input.startsWith('/') || input ==~ /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/.*/
            def path    = is_abs ? file(input) : sheet_dir.resolve(input)
            if (!path.exists()) {
                error("Samplesheet ${params.input}: input of sample '${meta.id}' not found: ${path}")
            }
            [ meta + [ species: species ?: null ], path ]
        }

    LIVERANNOT ( ch_samples )

    workflow.onComplete {
        if (workflow.success) {
            log.info "liverannot: done. MultiQC report in ${params.outdir}/multiqc/"
        } else {
            log.error "liverannot: failed. Failing task: ${workflow.errorReport?.readLines()?.find { it.contains('Caused by') } ?: workflow.errorMessage}"
        }
    }
}

#!/usr/bin/env nextflow
/*
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    liverannot/liverannot
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    Automated liver cell-type classification and cluster annotation for scRNA-seq.
    Each process calls one `liverannot` subcommand; all step logic lives in the Python package.
    Github : https://github.com/liverannot/liverannot
----------------------------------------------------------------------------------------
*/

include { LIVERANNOT              } from './workflows/liverannot'
include { PIPELINE_INITIALISATION } from './subworkflows/local/utils_nfcore_liverannot_pipeline'
include { PIPELINE_COMPLETION     } from './subworkflows/local/utils_nfcore_liverannot_pipeline'

/*
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    NAMED WORKFLOW FOR PIPELINE
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
*/

workflow LIVERANNOT_LIVERANNOT {

    take:
    samplesheet // channel: [ val(meta), path(input) ] read from --input

    main:
    LIVERANNOT ( samplesheet )

    emit:
    multiqc_report = LIVERANNOT.out.multiqc_report // channel: path(multiqc_report.html)
}

/*
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    RUN MAIN WORKFLOW
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
*/

workflow {

    main:
    // validate parameters, print the summary, read the samplesheet
    PIPELINE_INITIALISATION (
        params.version,
        params.validate_params,
        args,
        params.outdir,
        params.input
    )

    LIVERANNOT_LIVERANNOT ( PIPELINE_INITIALISATION.out.samplesheet )

    PIPELINE_COMPLETION ( params.outdir )
}

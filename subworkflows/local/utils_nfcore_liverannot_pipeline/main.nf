//
// Pipeline initialisation and completion, as the nf-core template lays them out. The nf-schema
// plugin (parameter validation, help, samplesheet parsing) is used here and nowhere else, so that
// the workflow itself runs without it (tests/nextflow/main.nf drives it that way).
//

include { validateParameters     } from 'plugin/nf-schema'
include { paramsSummaryLog       } from 'plugin/nf-schema'
include { samplesheetToList      } from 'plugin/nf-schema'
include { SAMPLESHEET_TO_CHANNEL } from '../samplesheet_to_channel'

/*
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    SUBWORKFLOW TO INITIALISE PIPELINE
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
*/

workflow PIPELINE_INITIALISATION {

    take:
    version           // boolean: print the pipeline version and exit
    validate_params   // boolean: validate the parameters against nextflow_schema.json
    nextflow_cli_args //   array: positional command-line arguments (none are expected)
    outdir            //  string: where the results are published
    input             //  string: the samplesheet

    main:
    if (version) {
        log.info "${workflow.manifest.name} ${workflow.manifest.version}"
        System.exit(0)
    }
    if (validate_params) {
        validateParameters()
    }
    log.info paramsSummaryLog(workflow)
    if (nextflow_cli_args) {
        log.warn "Positional arguments are ignored: ${nextflow_cli_args.join(' ')} (did you mean --input?)"
    }
    log.info "Results will be published to ${outdir}"

    SAMPLESHEET_TO_CHANNEL (
        samplesheetToList(input, "${projectDir}/assets/schema_input.json"),
        input
    )

    emit:
    samplesheet = SAMPLESHEET_TO_CHANNEL.out.samples // channel: [ val(meta), path(input) ]
}

/*
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    SUBWORKFLOW FOR PIPELINE COMPLETION
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
*/

workflow PIPELINE_COMPLETION {

    take:
    outdir //  string: where the results are published

    main:
    workflow.onComplete {
        if (workflow.success) {
            log.info "liverannot: done. MultiQC report in ${outdir}/multiqc/"
        }
    }

    workflow.onError {
        log.error "liverannot: failed: ${workflow.errorMessage}. The failing task's tag names the " +
            "sample; its .command.err (in the work folder above) holds liverannot's message."
    }
}

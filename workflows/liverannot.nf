//
// LIVERANNOT: scatter one annotation chain per sample, gather cohort tables and one MultiQC report.
//
include { LIVER_ANNOTATION     } from '../subworkflows/local/liver_annotation/main'
include { LIVERANNOT_AGGREGATE } from '../modules/local/aggregate/main'
include { MULTIQC              } from '../modules/local/multiqc/main'

workflow LIVERANNOT {

    take:
    ch_samples // channel: [ val(meta), path(input) ] from the samplesheet

    main:
    ch_versions = Channel.empty()

    // scatter: every sample runs its own chain of tasks
    LIVER_ANNOTATION ( ch_samples )
    ch_versions = ch_versions.mix(LIVER_ANNOTATION.out.versions)

    // gather: cohort composition, QC and cluster tables (sorted for deterministic -resume hashes)
    LIVERANNOT_AGGREGATE (
        LIVER_ANNOTATION.out.summary.map { meta, json -> json }.toSortedList { a, b -> a.name <=> b.name }
    )
    ch_versions = ch_versions.mix(LIVERANNOT_AGGREGATE.out.versions)

    // software versions in MultiQC's own format
    ch_collated_versions = ch_versions
        .unique()
        .collectFile(name: 'liverannot_software_mqc_versions.yml', sort: true, newLine: true, storeDir: "${params.outdir}/pipeline_info")

    ch_multiqc_config = params.multiqc_config
        ? Channel.fromPath(params.multiqc_config, checkIfExists: true)
        : Channel.fromPath("${projectDir}/assets/multiqc_config.yml", checkIfExists: true)

    MULTIQC (
        LIVERANNOT_AGGREGATE.out.mqc.flatten()
            .mix(LIVER_ANNOTATION.out.mqc)
            .mix(ch_collated_versions)
            .collect(),
        ch_multiqc_config.collect()
    )

    emit:
    h5ad           = LIVER_ANNOTATION.out.h5ad
    clusters       = LIVER_ANNOTATION.out.clusters
    cohort_tables  = LIVERANNOT_AGGREGATE.out.tables
    multiqc_report = MULTIQC.out.report
    versions       = ch_versions
}

/*
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
    LIVERANNOT: scatter one annotation chain per sample, gather cohort tables and one
    MultiQC report.
~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~
*/

include { LIVER_ANNOTATION     } from '../subworkflows/local/liver_annotation/main'
include { LIVERANNOT_SAMPLE    } from '../modules/local/sample/main'
include { LIVERANNOT_AGGREGATE } from '../modules/local/aggregate/main'
include { MULTIQC              } from '../modules/local/multiqc/main'

/*
 * The run's parameters as MultiQC custom content (an HTML definition list), the section the
 * report's config orders first. The nf-core template builds it with nf-schema; this one needs no
 * plugin, so the workflow runs the same from main.nf and from the offline test entry. Parameters
 * that do not change what a run computes (help, report file names, institutional profiles) are
 * left out.
 */
def workflowSummaryMultiqc(Map run_params) {
    def skip = ['help', 'version', 'validate_params', 'trace_report_suffix', 'config_profile_name',
                'config_profile_description', 'config_profile_contact', 'config_profile_url',
                'custom_config_version', 'custom_config_base']
    def rows = run_params
        .findAll { k, v -> v != null && v != '' && !(k in skip) && !(k ==~ /.*[A-Z].*/) }
        .sort { a, b -> a.key <=> b.key }
        .collect { k, v -> "        <dt>${htmlEscape(k.toString())}</dt><dd><samp>${htmlEscape(v.toString())}</samp></dd>".toString() }
    def lines = [
        "id: 'liverannot-liverannot-summary'",
        "description: ' - the parameters of this run.'",
        "section_name: 'liverannot/liverannot Workflow Summary'",
        "section_href: 'https://github.com/liverannot/liverannot'",
        "plot_type: 'html'",
        "data: |",
        '    <dl class="dl-horizontal">'
    ] + rows + ['    </dl>']
    return lines.join('\n') + '\n'
}

def htmlEscape(String text) {
    return text.replace('&', '&amp;').replace('<', '&lt;').replace('>', '&gt;')
}

workflow LIVERANNOT {

    take:
    ch_samples // channel: [ val(meta), path(input) ]; meta.id, meta.species (null: not given)

    main:
    ch_versions = channel.empty()

    // a sample's own species wins; --species is the default for samples without one; with
    // neither, liverannot detects the species from the gene names
    ch_input = ch_samples.map { meta, input ->
        [ meta + [ species: meta.species ?: params.species ?: null ], input ]
    }

    // scatter: by default one task per sample runs its whole chain (LIVERANNOT_SAMPLE: one process
    // start, one model load, one h5ad written); --per_step_tasks runs each step as its own task, as
    // the LIVER_ANNOTATION subworkflow does in a host pipeline (benchmarks/COHORT.md: ~16 s and five
    // intermediate h5ads more per sample)
    ch_h5ad       = channel.empty()
    ch_clusters   = channel.empty()
    ch_summary    = channel.empty()
    ch_sample_mqc = channel.empty()
    if (params.per_step_tasks) {
        LIVER_ANNOTATION ( ch_input )
        ch_h5ad       = LIVER_ANNOTATION.out.h5ad
        ch_clusters   = LIVER_ANNOTATION.out.clusters
        ch_summary    = LIVER_ANNOTATION.out.summary
        ch_sample_mqc = LIVER_ANNOTATION.out.mqc
        ch_versions   = ch_versions.mix(LIVER_ANNOTATION.out.versions)
    } else {
        LIVERANNOT_SAMPLE ( ch_input )
        ch_h5ad       = LIVERANNOT_SAMPLE.out.h5ad
        ch_clusters   = LIVERANNOT_SAMPLE.out.clusters
        ch_summary    = LIVERANNOT_SAMPLE.out.summary
        ch_sample_mqc = LIVERANNOT_SAMPLE.out.mqc.map { _meta, table -> table }
        ch_versions   = ch_versions.mix(LIVERANNOT_SAMPLE.out.versions.first())
    }

    // gather: cohort composition, QC and cluster tables (sorted: the same inputs give the same
    // task hash, so -resume finds it)
    LIVERANNOT_AGGREGATE (
        ch_summary
            .map { _meta, json -> json }
            .toSortedList { a, b -> a.name <=> b.name }
    )
    ch_versions = ch_versions.mix(LIVERANNOT_AGGREGATE.out.versions)

    // with --ignore_failed_samples a failed sample does not stop the run: say which were left out
    ch_input
        .map { meta, _input -> [ meta.id, meta ] }
        .join(ch_summary.map { meta, json -> [ meta.id, json ] }, remainder: true)
        .filter { _id, _meta, json -> json == null }
        .map { id, _meta, _json -> id }
        .collect()
        .subscribe { failed ->
            log.warn "liverannot: ${failed.size()} sample(s) failed and are not in the cohort " +
                "tables or the MultiQC report: ${failed.sort().join(', ')}"
        }

    // software versions in MultiQC's own format, in a fixed order (sorted by their text: the
    // versions.yml files all have one name, and arrive in any order)
    ch_collated_versions = ch_versions
        .unique()
        .collectFile(name: 'liverannot_software_mqc_versions.yml', sort: { f -> f.text }, newLine: true, storeDir: "${params.outdir}/pipeline_info")

    // the run's parameters as a MultiQC section (only what decides the results, sorted, so that
    // an identical run gives an identical file and -resume keeps MultiQC cached)
    ch_workflow_summary = channel
        .value(workflowSummaryMultiqc(params))
        .collectFile(name: 'workflow_summary_mqc.yaml')

    ch_multiqc_config = params.multiqc_config
        ? channel.fromPath(params.multiqc_config, checkIfExists: true)
        : channel.fromPath("${projectDir}/assets/multiqc_config.yml", checkIfExists: true)

    // MultiQC's inputs sorted by name: the same files give the same task hash on -resume
    MULTIQC (
        LIVERANNOT_AGGREGATE.out.mqc.flatten()
            .mix(ch_sample_mqc)
            .mix(ch_collated_versions)
            .mix(ch_workflow_summary)
            .toSortedList { a, b -> a.name <=> b.name },
        ch_multiqc_config.collect()
    )

    emit:
    h5ad           = ch_h5ad                          // channel: [ val(meta), path(annotated h5ad) ]
    clusters       = ch_clusters                      // channel: [ val(meta), path(cluster csv) ]
    cohort_tables  = LIVERANNOT_AGGREGATE.out.tables  // channel: path(cohort csv)
    multiqc_report = MULTIQC.out.report               // channel: path(multiqc_report.html)
    versions       = ch_versions                      // channel: path(versions.yml)
}

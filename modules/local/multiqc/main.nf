// One MultiQC report over the cohort tables, per-sample QC and the software versions.
process MULTIQC {
    label 'process_single'
    // inputs hashed by content: the collated versions file is written anew by every run, so with
    // the default (path, size, date) hashing -resume would always run MultiQC again
    cache 'deep'

    conda "${moduleDir}/environment.yml"
    container "ghcr.io/liverannot/liverannot:0.1.0"

    input:
    path multiqc_files, stageAs: '?/*'
    path multiqc_config

    output:
    path "*multiqc_report.html", emit: report
    path "*_data"              , emit: data
    path "*_plots"             , emit: plots, optional: true
    path "versions.yml"        , emit: versions, topic: versions

    when:
    task.ext.when == null || task.ext.when

    script:
    def args   = task.ext.args ?: ''
    def config = multiqc_config ? "--config ${multiqc_config}" : ''
    """
    multiqc \
        --force \
        ${config} \
        ${args} \
        .

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        multiqc: \$(multiqc --version | sed 's/.*version //')
    END_VERSIONS
    """

    stub:
    """
    mkdir multiqc_data
    touch multiqc_report.html

    cat <<-END_VERSIONS > versions.yml
    "${task.process}":
        multiqc: \$(multiqc --version | sed 's/.*version //')
    END_VERSIONS
    """
}
